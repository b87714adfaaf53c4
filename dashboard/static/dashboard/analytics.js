// The analytics page's charts, drawn with Chart.js (installed from npm by `make assets`). The
// numbers and the translated labels come from the page (json_script); the tables and figures
// around the charts say the same in text, so the page reads without this script.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("analytics-data");
    if (!source || !window.Chart) { return; }
    var data = JSON.parse(source.textContent);
    var report = data.report, words = data.labels;
    var periods = report.series.map(function (p) { return p.start; });
    var common = { responsive: true, maintainAspectRatio: false, animation: false,
                   plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } };
    var colors = { blue: "#1d4ed8", sky: "#7dd3fc", green: "#059669", amber: "#d97706", violet: "#7c3aed",
                   red: "#dc2626" };

    new window.Chart(document.getElementById("chart-conversations"), {
      type: "line",
      data: { labels: periods, datasets: [
        { label: words.conversations, data: report.series.map(function (p) { return p.conversations; }),
          borderColor: colors.blue, backgroundColor: colors.blue, tension: 0.2 },
        { label: words.customer_messages, data: report.series.map(function (p) { return p.customer_messages; }),
          borderColor: colors.sky, backgroundColor: colors.sky, tension: 0.2 }] },
      options: Object.assign({}, common, { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } })
    });

    var kinds = [["catalog", colors.green], ["hours", colors.amber], ["passages", colors.violet], ["none", colors.red]];
    new window.Chart(document.getElementById("chart-answers"), {
      type: "bar",
      data: { labels: periods, datasets: kinds.map(function (kind) {
        return { label: words[kind[0]], backgroundColor: kind[1],
                 data: report.series.map(function (p) { return p.answers[kind[0]]; }) };
      }) },
      options: Object.assign({}, common, { scales: { x: { stacked: true },
                                                     y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } })
    });

    var hours = [];
    for (var h = 0; h < 24; h++) { hours.push((h < 10 ? "0" : "") + h); }
    new window.Chart(document.getElementById("chart-hours"), {
      type: "bar",
      data: { labels: hours, datasets: [{ label: words.by_hour, data: report.hours, backgroundColor: colors.blue }] },
      options: Object.assign({}, common, { plugins: { legend: { display: false } },
                                           scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } })
    });
    document.documentElement.dataset.chartsDrawn = "3";
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
