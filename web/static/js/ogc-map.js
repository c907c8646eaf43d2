// OGC API HTML views: draws the page's GeoJSON (embedded as JSON, not HTML) on a Leaflet map.
// Every string from the data is inserted as text (textContent), never as HTML.
(function () {
  "use strict";
  var el = document.getElementById("wm-map");
  var dataEl = document.getElementById("wm-map-data");
  if (!el || !dataEl || !window.L) { return; }
  var data = JSON.parse(dataEl.textContent);
  var cfg = el.dataset;
  var map = L.map(el, { zoomControl: true });
  L.tileLayer(cfg.tiles, { attribution: cfg.attribution, maxZoom: 19 }).addTo(map);

  function popup(f) {
    var div = document.createElement("div");
    var p = f.properties || {};
    var title = document.createElement(cfg.itemUrl ? "a" : "b");
    title.textContent = p.name || String(f.id);
    if (cfg.itemUrl) { title.href = cfg.itemUrl.replace("__ID__", encodeURIComponent(String(f.id))); }
    div.appendChild(title);
    [p.kind, p.address, p.opening_hours, p.status, p.distance_m != null ? p.distance_m + " m" : ""]
      .forEach(function (t) {
        if (!t) { return; }
        div.appendChild(document.createElement("br"));
        div.appendChild(document.createTextNode(String(t)));
      });
    return div;
  }

  var layer = L.geoJSON(data, {
    pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 6, weight: 1 }); },
    style: { color: "#0b5394", weight: 1.5, fillOpacity: 0.08 },
    onEachFeature: function (f, lyr) { lyr.bindPopup(popup(f)); }
  }).addTo(map);
  var bounds = layer.getBounds();
  if (bounds.isValid()) {
    map.fitBounds(bounds, { maxZoom: 16, padding: [20, 20] });
  } else {
    map.setView([36.30, 120.38], 9);
  }
  el.dataset.features = String(layer.getLayers().length);
})();
