// The planner report's map (web/report.py writes this file next to index.html). Everything comes from the
// inert JSON block #wm-report-data (layers as GeoJSON, built in geo.planner); every string from it reaches
// the page through textContent, never as HTML.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("wm-report-data").textContent);
  var labels = data.labels;

  function box(lines) {
    var d = document.createElement("div");
    lines.forEach(function (t, i) {
      if (i) { d.appendChild(document.createElement("br")); }
      var s = document.createElement(i ? "span" : "b");
      s.textContent = String(t);
      d.appendChild(s);
    });
    return d;
  }

  var map = L.map("wm-map", { zoomControl: true });
  L.control.scale().addTo(map);
  L.tileLayer(data.tiles.url, { attribution: data.tiles.attribution, maxZoom: 19 }).addTo(map);
  var b = data.grid.bounds;
  var grid = L.imageOverlay(data.grid.png, b, { opacity: 0.75, interactive: false }).addTo(map);
  var districts = L.geoJSON(data.districts, {
    interactive: false, style: { color: "#12263a", weight: 1.5, fill: false }
  }).addTo(map);
  var gaps = L.geoJSON(data.gaps, {
    style: { color: "#7f1d1d", weight: 1.5, dashArray: "4 3", fillColor: "#7f1d1d", fillOpacity: 0.06 },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindPopup(box(["#" + p.rank + " " + (p.place ? p.place + " · " : "") + p.district, p.area_km2 + " km²",
        labels.uncovered_workers + ": " + p.uncovered_workers, labels.uncovered_residents + ": " + p.uncovered_residents]));
    }
  }).addTo(map);
  var facilities = L.geoJSON(data.facilities, {
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, { radius: 3, weight: 1, color: "#ffffff", fillColor: "#1f4e79", fillOpacity: 0.9 });
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindPopup(box([p.name, p.kind + " · " + p.district, labels.workers_served + ": " + p.workers_served]));
    }
  }).addTo(map);
  var sites = L.geoJSON(data.sites, {
    pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, { radius: 10, weight: 2, color: "#111111", fillColor: "#ffd400", fillOpacity: 1 })
        .bindTooltip(String(Number(f.properties.rank)), { permanent: true, direction: "center", className: "wm-rank" });
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindPopup(box(["#" + p.rank + " " + p.district, labels.gain + ": +" + p.marginal_gain,
        labels.cumulative + ": " + p.cumulative_pct + " %"]));
    }
  }).addTo(map);
  var overlays = {};
  overlays[labels.grid] = grid;
  overlays[labels.districts] = districts;
  overlays[labels.gaps] = gaps;
  overlays[labels.facilities] = facilities;
  overlays[labels.sites] = sites;
  L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  map.fitBounds(b);
  window.WM_REPORT = { map: map, layers: { grid: grid, districts: districts, gaps: gaps, facilities: facilities, sites: sites } };
  document.body.dataset.map = "ready";
})();
