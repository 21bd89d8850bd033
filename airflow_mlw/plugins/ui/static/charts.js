/* The ML Workspace pages' charts, drawn with the vendored Vega-Lite and vega-embed (static/vendor).

   A page adds a chart with the ``chart`` macro of templates/macros.html, which writes
     <div class="mlw-chart-view" data-chart="NAME"></div>
     <script type="application/json" class="mlw-chart" data-name="NAME" data-kind="KIND"
             data-src="OPTIONAL JSON ROUTE">{"rows": [...], ...options}</script>
   This script finds those, loads the Vega libraries only when a page has a chart, and draws each
   one in the element before its script: KIND names a spec builder of ``kinds`` below (or
   "vega-lite": the JSON is a whole Vega-Lite spec). The rows are the spec's dataset "rows", so
   ``mlwCharts.views[NAME].data("rows")`` gives back what was drawn. With data-src the JSON comes
   from that route (same origin, the page's cookie) and is merged over the embedded options; a
   <select data-chart-for="NAME [NAME...]" name="PARAM"> sets ?PARAM= on those charts' routes and
   redraws them.

   window.mlwCharts: {kinds, views, errors, settled, whenSettled(), draw(node)} — other pages may
   add kinds (mlwCharts.kinds.foo = function (data) { return spec; }) before the page loads.
*/
(function () {
  "use strict";
  var script = document.currentScript;
  var vendor = script ? script.getAttribute("data-vendor") : "";
  var VENDOR_FILES = ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js"];
  var PALETTE = "tableau10";
  var registry = window.mlwCharts || {};
  var kinds = registry.kinds || {};
  var views = {};
  var errors = {};
  var loading = null;
  var pending = 0;
  var waiters = [];

  function loadVendor() {
    if (!loading) {
      loading = VENDOR_FILES.reduce(function (previous, file) {
        return previous.then(function () {
          return new Promise(function (resolve, reject) {
            var tag = document.createElement("script");
            tag.src = vendor + file;
            tag.onload = resolve;
            tag.onerror = function () { reject(new Error("could not load " + vendor + file)); };
            document.head.appendChild(tag);
          });
        });
      }, Promise.resolve());
    }
    return loading;
  }

  function tooltip(fields) {
    return fields.map(function (field) { return {field: field[0], type: field[1], title: field[2] || field[0]}; });
  }

  function base(data, extra) {
    var spec = {
      width: data.width || "container",
      height: data.height || 220,
      data: {name: "rows"},
      config: {range: {category: {scheme: PALETTE}}, view: {stroke: null}, axis: {labelLimit: 160}},
    };
    Object.keys(extra).forEach(function (key) { spec[key] = extra[key]; });
    return spec;
  }

  /* rows {series, x, y[, marked]}: one line per series; "marked" rows dashed (e.g. early-terminated). */
  function integerTicks(rows) {
    var top = rows.reduce(function (high, row) { return Math.max(high, row.x); }, 0);
    if (top > 20 || rows.some(function (row) { return row.x !== Math.round(row.x); })) return {};
    var values = [];
    for (var i = Math.min.apply(null, rows.map(function (row) { return row.x; })); i <= top; i++) values.push(i);
    return {values: values};
  }

  kinds.line = kinds.line || function (data) {
    var encoding = {
      x: {field: "x", type: "quantitative", title: data.x_title || "step", axis: integerTicks(data.rows || [])},
      y: {field: "y", type: "quantitative", title: data.y_title || "value", scale: {zero: false}},
      color: {field: "series", type: "nominal", title: data.series_title || "series",
              legend: data.legend === false ? null : {}},
      detail: {field: "series", type: "nominal"},
      tooltip: tooltip([["series", "nominal", data.series_title], ["x", "quantitative", data.x_title],
                        ["y", "quantitative", data.y_title]]),
    };
    if (data.marked_title) {
      encoding.strokeDash = {field: "marked", type: "nominal", title: data.marked_title,
                             scale: {domain: [false, true], range: [[1, 0], [4, 3]]}};
    }
    return base(data, {mark: {type: "line", point: data.points !== false, strokeWidth: 1.5}, encoding: encoding});
  };

  /* rows {label, value[, series]}: a bar per label (in the rows' order). */
  kinds.bar = kinds.bar || function (data) {
    return base(data, {
      mark: {type: "bar", tooltip: true},
      encoding: {
        x: {field: "label", type: "nominal", sort: null, title: data.x_title || null,
            axis: {labelAngle: -40, labelOverlap: true}},
        y: {field: "value", type: "quantitative", title: data.y_title || "value"},
        color: data.series_title ? {field: "series", type: "nominal", title: data.series_title}
                                 : {value: "#0969da"},
        tooltip: tooltip([["label", "nominal", data.x_title], ["value", "quantitative", data.y_title],
                          ["run", "nominal"]]),
      },
    });
  };

  /* rows {actual, predicted, count}: a confusion matrix as Azure draws it (counts in the cells). */
  kinds.heatmap = kinds.heatmap || function (data) {
    var labels = data.labels || null;
    var x = {field: "predicted", type: "ordinal", title: "predicted label", sort: labels, axis: {labelAngle: 0}};
    var y = {field: "actual", type: "ordinal", title: "true label", sort: labels};
    return base(data, {
      width: data.width || 60 * Math.max((labels || []).length, 2),
      height: data.height || 60 * Math.max((labels || []).length, 2),
      encoding: {x: x, y: y},
      layer: [
        {mark: "rect", encoding: {
          color: {field: "count", type: "quantitative", title: "count", scale: {scheme: "blues"}},
          tooltip: tooltip([["actual", "ordinal"], ["predicted", "ordinal"], ["count", "quantitative"]])}},
        {mark: {type: "text", fontSize: 13}, encoding: {
          text: {field: "count", type: "quantitative"},
          color: {condition: {test: "datum.count > datum.half", value: "white"}, value: "black"}}},
      ],
      transform: [{joinaggregate: [{op: "max", field: "count", as: "top"}]},
                  {calculate: "datum.top / 2", as: "half"}],
    });
  };

  /* rows {series, x, y}: curves on [0, 1]² (ROC, precision-recall), one per class. */
  kinds.curve = kinds.curve || function (data) {
    var unit = {domain: [0, 1]};
    var layers = [{
      mark: {type: "line", strokeWidth: 1.8},
      encoding: {
        x: {field: "x", type: "quantitative", title: data.x_title, scale: unit},
        y: {field: "y", type: "quantitative", title: data.y_title, scale: unit},
        color: {field: "series", type: "nominal", title: data.series_title || "class"},
        order: {field: "order", type: "quantitative"},
        tooltip: tooltip([["series", "nominal"], ["x", "quantitative", data.x_title],
                          ["y", "quantitative", data.y_title], ["threshold", "quantitative"]]),
      },
    }];
    if (data.diagonal) {
      layers.push({data: {values: [{x: 0, y: 0}, {x: 1, y: 1}]}, mark: {type: "line", strokeDash: [4, 4], color: "#8c959f"},
                   encoding: {x: {field: "x", type: "quantitative"}, y: {field: "y", type: "quantitative"}}});
    }
    return base(data, {width: data.width || 300, height: data.height || 300, layer: layers});
  };

  /* rows {start, end, count}: a histogram of given bins (Azure's residuals). */
  kinds.histogram = kinds.histogram || function (data) {
    return base(data, {
      mark: {type: "bar", binSpacing: 1, tooltip: true},
      encoding: {
        x: {field: "start", type: "quantitative", title: data.x_title || "value", bin: {binned: true}},
        x2: {field: "end"},
        y: {field: "count", type: "quantitative", title: data.y_title || "count"},
        color: {value: "#0969da"},
      },
    });
  };

  /* rows {x, y[, low, high]}: points (Azure's predicted vs true), with error bars when given. */
  kinds.scatter = kinds.scatter || function (data) {
    var x = {field: "x", type: "quantitative", title: data.x_title || "x", scale: {zero: false}};
    var y = {field: "y", type: "quantitative", title: data.y_title || "y", scale: {zero: false}};
    var layers = [{mark: {type: "point", filled: true, size: 50, tooltip: true, color: "#0969da"},
                   encoding: {x: x, y: y}}];
    if (data.error_bars) {
      layers.unshift({mark: {type: "rule", color: "#8c959f"},
                      encoding: {x: x, y: {field: "low", type: "quantitative"}, y2: {field: "high"}}});
    }
    if (data.identity) {
      layers.unshift({mark: {type: "line", strokeDash: [4, 4], color: "#8c959f"},
                      encoding: {x: x, y: {field: "x", type: "quantitative"}}});
    }
    return base(data, {layer: layers});
  };

  /* rows {trial, dimension, position, value, metric, marked}: parallel coordinates. ``position``
     is the value scaled to [0, 1] on its dimension's axis (scaled by the server); ``axes`` gives
     each dimension's {dimension, low, high} labels. Lines coloured by the metric; marked dashed. */
  kinds.parallel = kinds.parallel || function (data) {
    var dimensions = (data.axes || []).map(function (axis) { return axis.dimension; });
    var x = {field: "dimension", type: "nominal", sort: dimensions, title: null,
             axis: {labelAngle: 0, orient: "top", labelPadding: 16, labelFontWeight: "bold", domain: false, ticks: false}};
    var y = {field: "position", type: "quantitative", axis: null, scale: {domain: [0, 1]}};
    return base(data, {
      height: data.height || 280,
      layer: [
        {mark: {type: "rule", color: "#d0d7de"}, data: {values: data.axes || []}, encoding: {x: x}},
        {mark: {type: "line", strokeWidth: 1.4, opacity: 0.8},
         encoding: {
           x: x, y: y, detail: {field: "trial", type: "nominal"},
           color: {field: "metric", type: "quantitative", title: data.metric_title || "metric",
                   scale: {scheme: "viridis", reverse: data.maximize !== false}},  // the best trials darkest
           strokeDash: {field: "marked", type: "nominal", title: data.marked_title || "marked",
                        scale: {domain: [false, true], range: [[1, 0], [4, 3]]}},
           tooltip: tooltip([["trial", "nominal"], ["dimension", "nominal"], ["value", "nominal"],
                             ["metric", "quantitative", data.metric_title], ["status", "nominal"]]),
         }},
        {mark: {type: "text", dy: -6, fontSize: 10, color: "#656d76"}, data: {values: data.axes || []},
         encoding: {x: x, y: {datum: 1, type: "quantitative", scale: {domain: [0, 1]}}, text: {field: "high"}}},
        {mark: {type: "text", dy: 12, fontSize: 10, color: "#656d76"}, data: {values: data.axes || []},
         encoding: {x: x, y: {datum: 0, type: "quantitative", scale: {domain: [0, 1]}}, text: {field: "low"}}},
      ],
    });
  };

  function specOf(kind, data) {
    if (kind === "vega-lite") return data.spec || data;
    var build = kinds[kind];
    if (!build) throw new Error("no chart kind " + JSON.stringify(kind));
    return build(data);
  }

  function settle() {
    if (--pending > 0) return;
    registry.settled = true;
    waiters.splice(0).forEach(function (resolve) { resolve(registry); });
  }

  function withQuery(src, params) {
    var url = new URL(src, window.location.href);
    Object.keys(params).forEach(function (key) { url.searchParams.set(key, params[key]); });
    return url.pathname + url.search;
  }

  function dataOf(node) {
    var embedded = JSON.parse(node.textContent || "{}");
    var src = node.getAttribute("data-src");
    if (!src) return Promise.resolve(embedded);
    return fetch(src, {credentials: "same-origin", headers: {Accept: "application/json"}}).then(function (response) {
      if (!response.ok) throw new Error(src + " answered " + response.status);
      return response.json();
    }).then(function (fetched) {
      var merged = {};
      [embedded, fetched].forEach(function (part) {
        Object.keys(part).forEach(function (key) { merged[key] = part[key]; });
      });
      return merged;
    });
  }

  /* Draws (or redraws) the chart of one <script class="mlw-chart">; resolves with its View. */
  function draw(node) {
    var name = node.getAttribute("data-name");
    var kind = node.getAttribute("data-kind");
    var target = node.previousElementSibling;
    target.setAttribute("data-state", "loading");
    return Promise.all([loadVendor(), dataOf(node)]).then(function (parts) {
      var data = parts[1];
      var rows = data.rows || [];
      target.setAttribute("data-rows", String(rows.length));
      if (!rows.length && kind !== "vega-lite") {
        target.setAttribute("data-state", "empty");
        target.textContent = data.empty || "nothing to draw";
        return null;
      }
      var spec = specOf(kind, data);
      if (kind !== "vega-lite") spec.datasets = {rows: rows};
      if (views[name]) views[name].finalize();
      return window.vegaEmbed(target, spec, {actions: false, renderer: "svg"}).then(function (result) {
        views[name] = result.view;
        delete errors[name];
        target.setAttribute("data-state", "drawn");
        return result.view;
      });
    }).catch(function (error) {
      errors[name] = String(error && error.message || error);
      target.setAttribute("data-state", "error");
      target.textContent = "chart " + name + ": " + errors[name];
      return null;
    });
  }

  function start() {
    var nodes = Array.prototype.slice.call(document.querySelectorAll("script.mlw-chart"));
    pending = nodes.length + 1;
    nodes.forEach(function (node) { draw(node).then(settle); });
    document.querySelectorAll("select[data-chart-for]").forEach(function (select) {
      select.addEventListener("change", function () {
        var params = {};
        params[select.name] = select.value;
        select.getAttribute("data-chart-for").split(/\s+/).forEach(function (name) {
          var node = document.querySelector('script.mlw-chart[data-name="' + name + '"]');
          if (!node || !node.getAttribute("data-src")) return;
          node.setAttribute("data-src", withQuery(node.getAttribute("data-src"), params));
          registry.settled = false;
          pending += 1;
          draw(node).then(settle);
        });
      });
    });
    settle();
  }

  registry.kinds = kinds;
  registry.views = views;
  registry.errors = errors;
  registry.settled = false;
  registry.draw = draw;
  registry.whenSettled = function () {
    return registry.settled ? Promise.resolve(registry) : new Promise(function (resolve) { waiters.push(resolve); });
  };
  window.mlwCharts = registry;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
