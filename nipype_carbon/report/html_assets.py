"""The HTML report's inline style sheet and script (no remote assets)."""

from nipype_carbon.report.escape import CSV_CELL_JS

CSS = """
:root{--ink:#1d1d1f;--muted:#5f6368;--line:#e3e3e3;--warn:#fff4e5;--warn-line:#e8a33d}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--ink);max-width:1120px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 10px;
border-bottom:1px solid var(--line);padding-bottom:4px}
.sub,.small{color:var(--muted);font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:10px;margin:18px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card .k{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.card .v{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.card .v.long{font-size:15px}
.alert{background:var(--warn);border-left:4px solid var(--warn-line);padding:8px 12px;
margin:8px 0;border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:baseline}
th{background:#f6f6f6;font-weight:600}tbody tr:nth-child(even){background:#fafafa}
td.n,th.n{text-align:right;white-space:nowrap}td.name{overflow-wrap:anywhere;min-width:9em}
td.wrap{overflow-wrap:anywhere}td.word{overflow-wrap:break-word}
td.share{min-width:60px}td.share b{font-weight:400}
td.share .bar{display:block;height:4px;margin-top:2px;background:#eef2f6;border-radius:2px}
td.share .bar i{display:block;height:100%;background:#5b9bd5;border-radius:2px}
td.m{font-size:11px;min-width:6em}
figure{margin:0;overflow-x:auto}figure svg{max-width:100%;height:auto}
#nc-graph{overflow:auto;max-height:85vh;border:1px solid var(--line);border-radius:6px}
#nc-graph svg{max-width:none}#nc-graph.fit svg{max-width:100%}
button{font:inherit;padding:4px 12px;border:1px solid #999;border-radius:4px;background:#f6f6f6}
@media print{body{max-width:none;padding:0;font-size:11pt}button{display:none}
figure,.cards,.alert{break-inside:avoid}h2{break-after:avoid}table{font-size:9pt}
thead{display:table-header-group}tr{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}@page{margin:14mm}}
"""
SCRIPT = """(function () {
  var body = document.body;
  try {
    var data = JSON.parse(document.getElementById("nipype-carbon-data").textContent);
    var nodes = data.nodes;
    body.setAttribute("data-nodes", String(nodes.data.length));
    // names are the user's: controls made visible, no cell a spreadsheet reads as a formula
    var cell = CSV_CELL;
    document.getElementById("nc-csv").addEventListener("click", function () {
      var rows = [nodes.columns].concat(nodes.data).map(function (r) {
        return r.map(cell).join(",");
      });
      var url = URL.createObjectURL(new Blob([rows.join("\\n") + "\\n"], {type: "text/csv"}));
      var a = document.createElement("a");
      a.href = url; a.download = "nodes.csv"; a.click();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
    var graph = document.getElementById("nc-graph");
    if (graph) {
      var fitButton = document.getElementById("nc-graph-fit");
      var setFit = function (fit) {
        graph.classList.toggle("fit", fit);
        fitButton.textContent = fit ? "Full size" : "Fit to width";
      };
      // wider than its frame: fitted at first where its smallest words stay 11 px or more, so
      // nothing of it starts out of view; else drawn at its own scale, the frame saying that
      // the rest is a scroll (or "Fit to width") away
      var drawn = graph.querySelector("svg");
      var wide = drawn ? drawn.getBoundingClientRect().width : 0;
      if (wide > graph.clientWidth) {
        var smallest = 1e9;
        drawn.querySelectorAll("text").forEach(function (t) {
          if (t.textContent.trim() !== "") {
            var px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
            smallest = Math.min(smallest, px);
          }
        });
        if (smallest * graph.clientWidth / wide >= 11) { setFit(true); }
        else { document.getElementById("nc-graph-wider").hidden = false; }
      }
      fitButton.addEventListener("click", function () {
        setFit(!graph.classList.contains("fit"));
      });
      document.getElementById("nc-graph-open").addEventListener("click", function () {
        var svg = graph.querySelector("svg").outerHTML;
        var url = URL.createObjectURL(new Blob([svg], {type: "image/svg+xml"}));
        window.open(url, "_blank");
      });
    }
    body.setAttribute("data-ready", "true");
  } catch (err) {
    body.setAttribute("data-error", String(err));
  }
})();""".replace("CSV_CELL", CSV_CELL_JS.replace("\n", "\n    "))
