// Copy buttons, the account and link forms' fields shown for their choices, and live updates of the open
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

// The link form: the ChartInk action only for a ChartInk link (a TradingView alert names its own)
var kind = document.getElementById("f-kind");
if (kind) {
  var scanAction = function () {
    document.getElementById("row-scan_action").hidden = kind.value !== "chartink";
  };
  kind.addEventListener("change", scanAction);
  scanAction();
}

// A rupee amount as the pages show it (schemas/money.py inr): "-1234567.5" -> "-₹12,34,567.50"
var inr = function (text) {
  if (text === null || text === undefined || text === "") return "—";
  var value = Number(text), cents = Math.round(Math.abs(value) * 100 + 1e-6);
  var sign = value < 0 && cents > 0 ? "-" : "", parts = (cents / 100).toFixed(2).split(".");
  var head = parts[0].slice(0, -3), groups = [parts[0].slice(-3)];
  while (head.length > 2) { groups.unshift(head.slice(-2)); head = head.slice(0, -2); }
  if (head) groups.unshift(head);
  return sign + "₹" + groups.join(",") + "." + parts[1];
};

var table = document.getElementById("live-positions");
if (table && window.EventSource) {
  var body = table.querySelector("tbody");
  var COLUMNS = ["side", "state", "quantity", "entry", "last", "stop", "target", "trailing", "unrealized"];
  var CLASSES = {state: "state", last: "last", unrealized: "pnl"};
  var MONEY = {entry: true, last: true, stop: true, target: true, unrealized: true};
  var cell = function (text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : text;
    if (cls) td.className = cls;
    return td;
  };
  // A row drawn from an event is the ledger's a few seconds later (SETTLE_MS): a snapshot of
  // the ledger older than that does not remove it.
  var SETTLE_MS = 5000;
  var row = function (p, atMs) {
    var tr = document.createElement("tr");
    tr.dataset.id = p.id; tr.dataset.token = p.token; tr.dataset.settled = atMs + SETTLE_MS;
    var link = document.createElement("a"); link.href = "/positions/" + p.id; link.textContent = p.symbol;
    var first = document.createElement("td"); first.appendChild(link); tr.appendChild(first);
    COLUMNS.forEach(function (key) {
      var value = key === "trailing" ? (p.trailing ? "yes" : "no") : p[key];
      if (key === "state" && p.exit_failing) value += " — exit failing";
      if (MONEY[key]) value = inr(value);
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
    else if (current) current.replaceWith(row(p, event.at_ms));
    else if (live) body.insertBefore(row(p, event.at_ms), body.firstChild);
    showEmpty();
  });
  source.addEventListener("prices", function (e) {
    // {prices: {token: last}, pnl: {position id: P&L}, live: [position ids], at_ms}
    var update = JSON.parse(e.data), held = {};
    update.live.forEach(function (id) { held[id] = true; });
    body.querySelectorAll("tr[data-id]").forEach(function (tr) {   // closed while unseen
      if (!held[tr.dataset.id] && Number(tr.dataset.settled) <= update.at_ms) tr.remove();
    });
    showEmpty();
    body.querySelectorAll("tr[data-token]").forEach(function (tr) {
      var last = update.prices[tr.dataset.token], pnl = update.pnl[tr.dataset.id];
      if (last) tr.querySelector(".last").textContent = inr(last);
      if (pnl) tr.querySelector(".pnl").textContent = inr(pnl);
    });
  });
  document.getElementById("live-status").textContent = "Live.";
}
