// All-facilities overview map: loads GeoJSON from the API and clusters it.
// Every string from the data is inserted as text (never as HTML).
(function () {
  "use strict";
  var cfg = document.getElementById("wm-config").dataset;
  function ready(fn) {
    if (window[cfg.map]) { fn(window[cfg.map]); } else { setTimeout(function () { ready(fn); }, 20); }
  }
  function popup(p) {
    var div = document.createElement("div");
    var b = document.createElement("b");
    b.textContent = p.name;
    div.appendChild(b);
    [p.address, p.opening_hours, p.district].forEach(function (t) {
      if (!t) { return; }
      div.appendChild(document.createElement("br"));
      div.appendChild(document.createTextNode(t));
    });
    return div;
  }
  ready(function (map) {
    fetch(cfg.districts).then(function (r) { return r.json(); }).then(function (fc) {
      L.geoJSON(fc, { style: { color: "#555", weight: 1, fill: false } }).addTo(map);
    });
    fetch(cfg.facilities).then(function (r) { return r.json(); }).then(function (fc) {
      var cluster = L.markerClusterGroup({ chunkedLoading: true });
      var layer = L.geoJSON(fc, {
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, { radius: 6, weight: 1 });
        },
        onEachFeature: function (f, lyr) { lyr.bindPopup(popup(f.properties)); }
      });
      cluster.addLayer(layer);
      cluster.addTo(map);
      document.body.dataset.facilities = String(fc.features.length);
    });
  });
})();
