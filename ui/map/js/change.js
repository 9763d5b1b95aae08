/* The Change page's map: the run's region (outlined, framed once) and one layer of one period, swapped in
   place when the period or the layer changes (chg.view), so the map stays where the user panned it.
   cfg comes from ui.change.map.map_config; the page element around it is ui/map/js/live.js. */
window.amwChange = function (map, cfg) {
  var esc = window.amwEscape;
  var chg = {shown: null, layer: null};
  L.geoJSON(cfg.region, {style: function () { return cfg.outline_style; }}).addTo(map);
  if (cfg.bounds) { map.fitBounds(cfg.bounds, {animate: false}); }
  function tooltip(fields, values) {
    return function (layer) {
      var p = layer.feature.properties || {};
      return "<table>" + fields.map(function (f) {
        var v = p[f[0]];
        if (typeof v === "number") { v = Math.round(v * 1000) / 1000; }
        if (values && values[v] !== undefined) { v = values[v]; }
        return "<tr><th style=\"text-align:left;padding-right:6px\">" + esc(f[1]) + "</th><td>" + esc(v) + "</td></tr>";
      }).join("") + "</table>";
    };
  }
  /* v (from ui.change.map.view_settings): the layer's GeoJSON, its style or colours, its tooltip fields. */
  chg.view = function (group, v) {
    if (v.nonce === chg.shown) { return; }
    if (chg.layer) { map.removeLayer(chg.layer); }
    var colours = v.colours, style = v.style;
    chg.layer = L.geoJSON(JSON.parse(v.geojson), {style: function (f) {
      if (!colours) { return style; }
      var c = colours[f.properties[v.colour_by]];
      return {color: c, weight: 1, fillColor: c, fillOpacity: 0.5};
    }}).bindTooltip(tooltip(v.tooltip, v.values), {sticky: true}).addTo(map);
    chg.shown = v.nonce;
  };
  return chg;
};
