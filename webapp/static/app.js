// Copy buttons, the account form's fields for the chosen broker, and live updates of the open
// positions (Server-Sent Events).
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      button.textContent = "Copied";
    });
  });
});

var broker = document.getElementById("broker");
if (broker) {
  var fields = function () {
    document.querySelectorAll("#add-account label[class]").forEach(function (label) {
      label.hidden = !label.classList.contains("for-" + broker.value);
    });
  };
  broker.addEventListener("change", fields);
  fields();
}

var table = document.getElementById("live-positions");
if (table && window.EventSource) {
  var body = table.querySelector("tbody");
  var COLUMNS = ["side", "state", "quantity", "entry", "last", "stop", "target", "trailing", "unrealized"];
  var CLASSES = {state: "state", last: "last", unrealized: "pnl"};
  var cell = function (text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : text;
    if (cls) td.className = cls;
    return td;
  };
  var row = function (p) {
    var tr = document.createElement("tr");
    tr.dataset.id = p.id; tr.dataset.token = p.token;
    var link = document.createElement("a"); link.href = "/positions/" + p.id; link.textContent = p.symbol;
    var first = document.createElement("td"); first.appendChild(link); tr.appendChild(first);
    COLUMNS.forEach(function (key) {
      var value = key === "trailing" ? (p.trailing ? "yes" : "no") : p[key];
      if (key === "state" && p.exit_failing) value += " — exit failing";
      tr.appendChild(cell(value, CLASSES[key]));
    });
    return tr;
  };
  var showEmpty = function () {
    var empty = body.querySelector("tr.empty");
    var any = body.querySelector("tr[data-id]");
    if (!any && !empty) {
      var tr = document.createElement("tr"); tr.className = "empty";
      var td = cell("No open positions."); td.colSpan = 10; tr.appendChild(td); body.appendChild(tr);
    } else if (any && empty) {
      empty.remove();
    }
  };
  var source = new EventSource("/live/events");
  var recent = document.getElementById("recent");
  var note = function (text) {
    var none = recent.querySelector(".none"); if (none) none.remove();
    var li = document.createElement("li"); li.textContent = text; recent.insertBefore(li, recent.firstChild);
  };
  source.addEventListener("pinewire", function (e) {
    var event = JSON.parse(e.data), p = event.position;
    if (event.kind === "ALERT_IGNORED") note("alert ignored: " + event.reason);
    if (event.kind === "EXIT_FAILING") note("exit failing on " + p.symbol + ": " + event.reason);
    if (p && p.state === "REJECTED") note("order rejected on " + p.symbol + ": " + event.reason);
    if (!p) return;
    var current = body.querySelector('tr[data-id="' + p.id + '"]');
    var live = ["PENDING", "OPEN", "EXITING"].indexOf(p.state) >= 0;
    if (current && !live) current.remove();
    else if (current) current.replaceWith(row(p));
    else if (live) body.insertBefore(row(p), body.firstChild);
    showEmpty();
  });
  source.addEventListener("prices", function (e) {
    var prices = JSON.parse(e.data);
    body.querySelectorAll("tr[data-token]").forEach(function (tr) {
      var last = prices[tr.dataset.token];
      if (last) tr.querySelector(".last").textContent = last;
    });
  });
  document.getElementById("live-status").textContent = "Live.";
}
