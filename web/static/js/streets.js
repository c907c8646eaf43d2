// The street basemap of an imported OpenStreetMap extract (PMTiles served by web/tiles.py, layers and
// classes written by geo/osm_tiles.py), drawn with protomaps-leaflet (web/static/vendor/protomaps-leaflet).
// Loaded by the offline basemap (WM.Basemaps in common.js) only when the page config has a ``streets``
// entry, together with the renderer: pages without an imported extract never load either.
(function (root) {
  "use strict";
  var WM = root.WM;
  var FONT = "system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Micro Hei', sans-serif";
  /** Per street ``class``, drawn minor first: [class, fill, casing or null, px at zoom 10, px at 18]. */
  var STREETS = [
    ["path", "#fa8072", null, 0.5, 2], ["rail", "#8a8a8a", null, 0.6, 2.5], ["service", "#ffffff", "#b5b5b5", 0.4, 6],
    ["minor", "#ffffff", "#aaaaaa", 0.5, 9], ["tertiary", "#ffffff", "#8f8f8f", 0.8, 11],
    ["secondary", "#f7fabf", "#8b9a1b", 1, 12], ["primary", "#fcd6a4", "#a06b00", 1.5, 13],
    ["trunk", "#f9b29c", "#c84e2f", 2, 14], ["motorway", "#e892a2", "#c24e6b", 2, 14]
  ];
  // water as the offline basemap's sea (common.js OFFLINE_STYLE.sea), so OSM's lakes and the shipped sea match
  var COLOURS = { water: "#aad3df", waterLine: "#8fc3d6", green: "#cdebb0", building: "#d9d0c9",
    buildingLine: "#c4b6ab", text: "#333333", halo: "#ffffff" };
  var MAJOR = /^(motorway|trunk|primary|secondary)$/;

  /**
   * protomaps-leaflet (``P``, its global ``protomapsL``) canvas layer for ``streets`` (the page config's
   * entry: url, max_zoom, attribution) in ``pane``: green, water, buildings, streets by class (casings
   * under fills), street and place names in the page's language. Our own rules, no ``flavor``: no font,
   * sprite or glyph is ever fetched; labels use the system's fonts. OSM data is WGS84, like the offline
   * basemap this is drawn in. The layer's attribution (ODbL) is shown while it is on the map.
   */
  WM.streetLayer = function (P, streets, pane) {
    function byClass(cls) { return function (z, f) { return f.props["class"] === cls; }; }
    function names() { return WM.i18n.lang === "en" ? ["name_en", "name"] : ["name"]; }
    function tunnel(z, f) { return f.props.tunnel ? 0.45 : 1; }
    var paintRules = [
      { dataLayer: "green", symbolizer: new P.PolygonSymbolizer({ fill: COLOURS.green, opacity: 0.8 }) },
      { dataLayer: "water", symbolizer: new P.PolygonSymbolizer({ fill: COLOURS.water }) },
      { dataLayer: "water", symbolizer: new P.LineSymbolizer({ color: COLOURS.waterLine, width: P.exp(1.4, [[10, 1], [18, 6]]) }) },
      { dataLayer: "buildings", symbolizer: new P.PolygonSymbolizer({ fill: COLOURS.building, stroke: COLOURS.buildingLine, width: 0.5 }) }
    ];
    var casings = [], fills = [];  // every casing under every fill: crossings join cleanly
    STREETS.forEach(function (s) {
      var width = P.exp(1.4, [[10, s[3]], [18, s[4]]]);
      if (s[2]) {
        casings.push({ dataLayer: "streets", filter: byClass(s[0]), symbolizer: new P.LineSymbolizer({
          color: s[2], opacity: tunnel, width: function (z) { return width(z) + (z >= 13 ? 2 : 1); } }) });
      }
      // a tunnel's opacity is per feature, and then a dashed line takes dashColor and dashWidth
      fills.push({ dataLayer: "streets", filter: byClass(s[0]), symbolizer: new P.LineSymbolizer({
        color: s[1], width: width, opacity: tunnel, dash: s[0] === "path" ? [2, 2] : undefined,
        dashColor: s[1], dashWidth: width }) });
    });
    var text = { fill: COLOURS.text, stroke: COLOURS.halo, width: 3, labelProps: names };
    var labelRules = [
      { dataLayer: "places", symbolizer: new P.CenteredTextSymbolizer(Object.assign({
        font: function (z, f) { return (/^(city|town|suburb)$/.test(f.props.kind) ? "600 14px " : "13px ") + FONT; }
      }, text)) },
      { dataLayer: "streets", minzoom: 12, filter: function (z, f) { return MAJOR.test(f.props["class"]); },
        symbolizer: new P.LineLabelSymbolizer(Object.assign({ font: "500 12px " + FONT }, text)) },
      { dataLayer: "streets", minzoom: 14, filter: function (z, f) { return !MAJOR.test(f.props["class"]) && f.props["class"] !== "rail"; },
        symbolizer: new P.LineLabelSymbolizer(Object.assign({ font: "12px " + FONT }, text)) }
    ];
    return P.leafletLayer({
      url: streets.url, maxDataZoom: streets.max_zoom, levelDiff: 0, pane: pane, attribution: streets.attribution,
      paintRules: paintRules.concat(casings, fills), labelRules: labelRules
    });
  };
})(window);
