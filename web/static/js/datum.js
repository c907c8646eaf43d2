// WGS84 <-> GCJ-02 <-> BD-09, a line-by-line port of geo/datum.py (tests compare the two).
// GCJ-02 is the datum AMap (Gaode) tiles are drawn in: a WGS84 point must be shifted
// to GCJ-02 to sit on the right street of an AMap basemap.
(function (root) {
  "use strict";
  var A = 6378245.0;
  var EE = 0.00669342162296594323;
  var PI = Math.PI;
  var X_PI = PI * 3000.0 / 180.0;

  function transformLat(x, y) {
    var ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    ret += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    ret += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    ret += (160.0 * Math.sin(y / 12.0 * PI) + 320.0 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    return ret;
  }

  function transformLon(x, y) {
    var ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    ret += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    ret += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    ret += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    return ret;
  }

  /** WGS84 -> GCJ-02; returns [lon, lat]. */
  function wgs84ToGcj02(lon, lat) {
    var dlat = transformLat(lon - 105.0, lat - 35.0);
    var dlon = transformLon(lon - 105.0, lat - 35.0);
    var radlat = lat / 180.0 * PI;
    var magic = 1 - EE * Math.pow(Math.sin(radlat), 2);
    var sqrtmagic = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * PI);
    dlon = (dlon * 180.0) / (A / sqrtmagic * Math.cos(radlat) * PI);
    return [lon + dlon, lat + dlat];
  }

  /** GCJ-02 -> WGS84 by fixed-point iteration on the forward transform (as geo.datum). */
  function gcj02ToWgs84(lon, lat) {
    var wLon = lon, wLat = lat;
    for (var i = 0; i < 30; i++) {
      var f = wgs84ToGcj02(wLon, wLat);
      var dLon = lon - f[0], dLat = lat - f[1];
      wLon += dLon;
      wLat += dLat;
      if (Math.abs(dLon) < 1e-10 && Math.abs(dLat) < 1e-10) { break; }
    }
    return [wLon, wLat];
  }

  /** GCJ-02 -> BD-09 (Baidu). */
  function gcj02ToBd09(lon, lat) {
    var z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * X_PI);
    var theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * X_PI);
    return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
  }

  function wgs84ToBd09(lon, lat) {
    var g = wgs84ToGcj02(lon, lat);
    return gcj02ToBd09(g[0], g[1]);
  }

  root.WMDatum = {
    wgs84ToGcj02: wgs84ToGcj02,
    gcj02ToWgs84: gcj02ToWgs84,
    gcj02ToBd09: gcj02ToBd09,
    wgs84ToBd09: wgs84ToBd09,
    /** [lon, lat] in WGS84 -> [lon, lat] in ``datum`` ("wgs84" | "gcj02"). */
    fromWgs84: function (lon, lat, datum) { return datum === "gcj02" ? wgs84ToGcj02(lon, lat) : [lon, lat]; },
    /** [lon, lat] in ``datum`` -> WGS84. */
    toWgs84: function (lon, lat, datum) { return datum === "gcj02" ? gcj02ToWgs84(lon, lat) : [lon, lat]; }
  };
})(window);
