// Facilities by viewport, for a registry too large to send whole (cfg.viewport, set by web/tiles_mvt.py):
// the tiles of the current view from /tiles/facilities/{z}/{x}/{y}.geojson — every facility from the
// point zoom on (cached per tile URL, so panning back asks again only after a reload), server-side
// clusters with counts below it. The worker page and /map draw what load() gives them, and the offline
// basemap's facility labels (common.js) read the same cached tiles; a city's registry never uses this file
// (its pages load their one small layer).
(function () {
  "use strict";
  var WM = window.WM;
  var MAX_CACHED = 256;
  var MAX_LAT = 85.0511;
  var cache = {}, order = [];  // tile URL -> its promise, shared by every ViewportTiles of the page

  function tileRange(bounds, z) {
    var n = Math.pow(2, z);
    function tx(lon) { return Math.min(n - 1, Math.max(0, Math.floor((lon + 180) / 360 * n))); }
    function ty(lat) {
      var r = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI / 180;
      return Math.min(n - 1, Math.max(0, Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * n)));
    }
    return { x0: tx(bounds.getWest()), x1: tx(bounds.getEast()), y0: ty(bounds.getNorth()), y1: ty(bounds.getSouth()) };
  }

  /** opts: url (with {z}/{x}/{y}), pointZoom, query() -> the cluster tiles' query string (the page's filters). */
  function ViewportTiles(map, opts) {
    this.map = map;
    this.opts = opts;
    this.seq = 0;
  }
  ViewportTiles.prototype.get = function (url) {
    if (!cache[url]) {
      cache[url] = WM.getJSON(url);
      cache[url].catch(function () { delete cache[url]; });
      order.push(url);
      if (order.length > MAX_CACHED) { delete cache[order.shift()]; }
    }
    return cache[url];
  };
  /** The view's facilities ({points: FeatureCollection, clusters: [Feature]}); if a newer view was asked meanwhile,
   * that one's (a caller never draws an outdated view, nor nothing: the offline basemap's datum switch asks again
   * while the first view loads). */
  ViewportTiles.prototype.load = function () {
    var self = this, o = this.opts;
    var z = Math.max(0, Math.round(this.map.getZoom()));
    var tz = Math.min(z, o.pointZoom);
    var q = tz < o.pointZoom && o.query ? o.query() : "";
    var r = tileRange(this.map.getBounds(), tz);
    var urls = [];
    for (var x = r.x0; x <= r.x1; x++) {
      for (var y = r.y0; y <= r.y1; y++) {
        urls.push(o.url.replace("{z}", tz).replace("{x}", x).replace("{y}", y) + (q ? "?" + q : ""));
      }
    }
    var seq = ++this.seq;
    var view = Promise.all(urls.map(function (u) { return self.get(u); })).then(function (docs) {
      if (seq !== self.seq) { return self.latest; }
      var points = [], clusters = [], seen = {};
      docs.forEach(function (d) {
        d.features.forEach(function (f) {
          if (f.properties.cluster) { clusters.push(f); } else if (!seen[f.id]) { seen[f.id] = true; points.push(f); }
        });
      });
      return { points: { type: "FeatureCollection", features: points }, clusters: clusters };
    });
    this.latest = view;
    return view;
  };
  /** Draw server clusters into ``layer`` (a click zooms in); ``toMap(lon, lat)`` gives the basemap's datum. */
  ViewportTiles.prototype.drawClusters = function (layer, clusters, toMap, label) {
    var map = this.map, pointZoom = this.opts.pointZoom;
    layer.clearLayers();
    clusters.forEach(function (f) {
      var c = f.geometry.coordinates, n = f.properties.count;
      var size = n < 10 ? 36 : n < 100 ? 42 : n < 1000 ? 50 : 58;
      var m = L.marker(toMap(c[0], c[1]), {
        title: label(n), keyboard: true,
        icon: L.divIcon({ html: '<div class="wm-cluster"><span>' + Number(n) + "</span></div>",
          className: "wm-cluster-icon wm-server-cluster", iconSize: L.point(size, size) })
      });
      m.on("click", function () { map.setView(m.getLatLng(), Math.min(pointZoom, map.getZoom() + 2)); });
      layer.addLayer(m);
    });
  };
  WM.ViewportTiles = ViewportTiles;
})();
