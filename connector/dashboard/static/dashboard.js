// closedloop dashboard: sortable tables and charts. Data arrives as JSON in #chart-data
// (escaped by the server), never as HTML, so visitor-supplied names stay inert.
(function () {
  "use strict";
  function sortTable(table, index, type, th) {
    var body = table.tBodies[0];
    var dir = th.getAttribute("aria-sort") === "descending" ? 1 : -1;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index], y = b.cells[index];
      if (type === "num") {
        var nx = parseFloat(x.getAttribute("data-v")), ny = parseFloat(y.getAttribute("data-v"));
        nx = isNaN(nx) ? -Infinity : nx; ny = isNaN(ny) ? -Infinity : ny;
        return (nx - ny) * dir;
      }
      return x.textContent.localeCompare(y.textContent) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, i, th.getAttribute("data-type"), th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortTable(table, i, th.getAttribute("data-type"), th); } });
    });
  });
  if (typeof Chart === "undefined") { return; }
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var palette = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#64748b"];
  var base = { animation: false, responsive: true, maintainAspectRatio: false };
  var groups = data.by_group.map(function (r) { return r.group; });
  new Chart(document.getElementById("chart-revenue"), {
    type: "bar",
    data: { labels: groups, datasets: [
      { label: "Revenue", data: data.by_group.map(function (r) { return r.revenue; }), backgroundColor: palette[0] },
      { label: "Spend", data: data.by_group.map(function (r) { return r.spend; }), backgroundColor: palette[2] }
    ] },
    options: base
  });
  new Chart(document.getElementById("chart-funnel"), {
    type: "bar",
    data: { labels: data.funnel.map(function (r) { return r.group; }), datasets: [
      { label: "Leads", data: data.funnel.map(function (r) { return r.leads; }), backgroundColor: palette[5] },
      { label: "Opportunities", data: data.funnel.map(function (r) { return r.opportunities; }), backgroundColor: palette[3] },
      { label: "Won", data: data.funnel.map(function (r) { return r.won; }), backgroundColor: palette[1] }
    ] },
    options: base
  });
  var series = Object.keys(data.timeline.series).map(function (name, i) {
    return { label: name, data: data.timeline.series[name], backgroundColor: palette[i % palette.length] };
  });
  new Chart(document.getElementById("chart-timeline"), {
    type: "bar", data: { labels: data.timeline.days, datasets: series },
    options: Object.assign({}, base, { scales: { x: { stacked: true }, y: { stacked: true } } })
  });
}());
