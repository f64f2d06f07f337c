// Copy buttons, and live updates of the open positions (Server-Sent Events).
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      button.textContent = "Copied";
    });
  });
});

var table = document.getElementById("live-positions");
if (table && window.EventSource) {
  var body = table.querySelector("tbody");
  var cell = function (text) { var td = document.createElement("td"); td.textContent = text == null ? "—" : text; return td; };
  var redraw = function () {
    fetch("/api/v1/positions?state=open", {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (rows) {
        body.textContent = "";
        if (!rows.length) { var tr = document.createElement("tr"); tr.className = "empty"; var td = cell("No open positions."); td.colSpan = 10; tr.appendChild(td); body.appendChild(tr); }
        rows.forEach(function (p) {
          var tr = document.createElement("tr");
          tr.dataset.id = p.id; tr.dataset.token = p.token;
          var link = document.createElement("a"); link.href = "/positions/" + p.id; link.textContent = p.symbol;
          var first = document.createElement("td"); first.appendChild(link); tr.appendChild(first);
          [p.side, p.state, p.quantity, p.entry, p.last, p.stop, p.target, p.trailing ? "yes" : "no", p.unrealized]
            .forEach(function (v, i) { var td = cell(v); if (i === 1) td.className = "state"; if (i === 4) td.className = "last"; if (i === 8) td.className = "pnl"; tr.appendChild(td); });
          body.appendChild(tr);
        });
      });
  };
  var source = new EventSource("/live/events");
  source.addEventListener("pinewire", redraw);
  source.addEventListener("prices", function (e) {
    var prices = JSON.parse(e.data), stale = false;
    body.querySelectorAll("tr[data-token]").forEach(function (tr) {
      var last = tr.querySelector(".last");
      if (prices[tr.dataset.token] && last.textContent !== prices[tr.dataset.token]) stale = true;
    });
    if (stale) redraw();
  });
  document.getElementById("live-status").textContent = "Live.";
}
