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
    tr.appendChild(closeCell(p));
    return tr;
  };
  var csrf = document.querySelector("input[name=csrf]");
  var closeCell = function (p) {   // as the page draws it: Close, or Cancel while pending
    var td = document.createElement("td");
    if (p.state === "EXITING" || !csrf) return td;
    var form = document.createElement("form");
    form.method = "post"; form.action = "/positions/" + p.id + "/close"; form.className = "inline";
    var token = document.createElement("input");
    token.type = "hidden"; token.name = "csrf"; token.value = csrf.value;
    var button = document.createElement("button");
    button.className = "close"; button.textContent = p.state === "PENDING" ? "Cancel" : "Close";
    form.appendChild(token); form.appendChild(button); td.appendChild(form);
    return td;
  };
  var showEmpty = function () {
    var empty = body.querySelector("tr.empty");
    var any = body.querySelector("tr[data-id]");
    if (!any && !empty) {
      var tr = document.createElement("tr"); tr.className = "empty";
      var td = cell("No open positions."); td.colSpan = 11; tr.appendChild(td); body.appendChild(tr);
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
    var update = JSON.parse(e.data);   // {prices: {token: last}, pnl: {position id: P&L}}
    body.querySelectorAll("tr[data-token]").forEach(function (tr) {
      var last = update.prices[tr.dataset.token], pnl = update.pnl[tr.dataset.id];
      if (last) tr.querySelector(".last").textContent = last;
      if (pnl) tr.querySelector(".pnl").textContent = pnl;
    });
  });
  document.getElementById("live-status").textContent = "Live.";
}
