// closedloop dashboard: sortable tables, the range picker and charts. Data arrives as JSON in
// #chart-data (escaped by the server), never as HTML, so visitor-supplied names stay inert.
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

  // Range picker: a preset applies at once; editing a date makes the range custom.
  var form = document.getElementById("filters");
  var preset = document.getElementById("preset");
  if (form && preset) {
    preset.addEventListener("change", function () {
      if (preset.value !== "custom") { form.submit(); }
    });
    form.querySelectorAll("input[type=date]").forEach(function (input) {
      input.addEventListener("change", function () { preset.value = "custom"; });
    });
  }

  if (typeof Chart === "undefined") { return; }
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var colourOf = function (name) { return data.colours[name] || "#64748b"; };
  var moneyFormat = new Intl.NumberFormat("en", { style: "currency", currency: data.currency, maximumFractionDigits: 0 });
  var money = function (v) { return moneyFormat.format(v); };
  var base = { animation: false, responsive: true, maintainAspectRatio: false };
  var moneyAxis = { y: { ticks: { callback: money } } };
  var groups = data.by_group.map(function (r) { return r.group; });
  new Chart(document.getElementById("chart-revenue"), {
    type: "bar",
    data: { labels: groups, datasets: [
      { label: "Revenue", data: data.by_group.map(function (r) { return r.revenue; }),
        backgroundColor: groups.map(colourOf) },
      { label: "Spend", data: data.by_group.map(function (r) { return r.spend; }),
        backgroundColor: "rgba(255,255,255,0)", borderColor: groups.map(colourOf), borderWidth: 2 }
    ] },
    options: Object.assign({}, base, { scales: moneyAxis, plugins: { legend: { display: false },
      tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + money(c.parsed.y); } } } } })
  });
  // Funnel: the stages along the axis, one bar per group in the group's colour.
  var stages = data.stages ? data.stages.map(function (s) { return [s.key, s.label]; })
    : [["leads", "Leads"], ["opportunities", "Opportunities"], ["won", "Won"]];
  var funnelRows = data.funnel_rows || data.funnel;
  new Chart(document.getElementById("chart-funnel"), {
    type: "bar",
    data: { labels: stages.map(function (s) { return s[1]; }), datasets: funnelRows.slice(0, 10).map(function (r) {
      return { label: r.group, data: stages.map(function (s) { return r[s[0]]; }), backgroundColor: colourOf(r.group) };
    }) },
    options: base
  });
  var velocityCanvas = document.getElementById("chart-velocity");
  if (velocityCanvas && data.velocity) {
    new Chart(velocityCanvas, {
      type: "bar",
      data: { labels: data.velocity.measures.map(function (m) { return m.replace(/_/g, " "); }),
        datasets: data.velocity.rows.slice(0, 10).map(function (r) {
          return { label: r.group, data: data.velocity.measures.map(function (m) { return r[m]; }), backgroundColor: colourOf(r.group) };
        }) },
      options: base
    });
  }
  var pathsCanvas = document.getElementById("chart-paths");
  if (pathsCanvas && data.paths) {
    new Chart(pathsCanvas, {
      type: "bar",
      data: { labels: data.paths.map(function (p) { return p.label; }), datasets: [
        { label: "Conversions", data: data.paths.map(function (p) { return p.conversions; }),
          backgroundColor: data.paths.map(function (p) { return colourOf(p.last); }) }
      ] },
      options: Object.assign({}, base, { indexAxis: "y", plugins: { legend: { display: false } } })
    });
  }
  var series = Object.keys(data.timeline.series).map(function (name) {
    return { label: name, data: data.timeline.series[name], backgroundColor: colourOf(name) };
  });
  new Chart(document.getElementById("chart-timeline"), {
    type: "bar", data: { labels: data.timeline.days, datasets: series },
    options: Object.assign({}, base, { scales: { x: { stacked: true }, y: { stacked: true, ticks: { callback: money } } } })
  });
}());
