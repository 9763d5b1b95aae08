/* The Detect map: every scored patch of a result, coloured by score bin, and window.det to re-filter
   them (det.apply) and show the chosen region (det.view) without a rebuild. cfg comes from
   ui.detect.map.ResultLayers. */
window.amwDetect = function (map, cfg) {
  var codec = amwCodec(cfg.alphabet, cfg.precision), rings = codec.rings, ints = codec.ints;
  var R = L.canvas({padding: 0.4});
  map.options.renderer = R;
  var B = cfg.bins, C = cfg.colors, all = rings(cfg.rings);
  function idx(s) { var a = ints(s), t = 0; for (var i = 0; i < a.length; i++) { t += a[i]; a[i] = t; } return a; }
  /* Overlapping patches of one bin fill once (nonzero rule); bins are drawn low to high, so each
     place shows the highest score covering it. smoothFactor 0: a patch never simplifies away. */
  function squares(style) {
    return L.polygon([], L.extend({renderer: R, interactive: false, smoothFactor: 0, fillRule: "nonzero"}, style));
  }
  var det = window.det = {map: map, n: all.length, shown: 0, flown: null, digest: cfg.digest};
  det.low = squares(cfg.styles.low);
  det.high = C.map(function (c) { return squares({color: c, weight: 0.5, opacity: 0.9, fillColor: c, fillOpacity: 0.7}); });
  det.top = squares(cfg.styles.top);
  det.polygons = squares(cfg.styles.polygon);
  det.region = L.layerGroup().addTo(map);
  det.image = L.layerGroup().addTo(map);
  var published = L.polygon(cfg.published ? rings(cfg.published) : [], L.extend({renderer: R, interactive: false}, cfg.styles.published));
  if (cfg.published) { published.addTo(map); }
  det.published = published;
  var ran = L.polygon(rings(cfg.outline), L.extend({renderer: R, interactive: false}, cfg.styles.ran)).addTo(map);
  var below = L.layerGroup([det.low]), above = L.layerGroup(det.high).addTo(map), outlines = L.layerGroup([det.polygons, det.top]).addTo(map);
  var W = cfg.words, named = {};
  var esc = window.amwEscape;
  [[W.above, above], [W.polygons, outlines], [W.below, below], [W.ran, ran], [W.region, det.region],
   [W.image, det.image], [W.published, published]].forEach(function (p) { named[esc(p[0])] = p[1]; });
  L.control.layers(null, named, {collapsed: true, position: "topright"}).addTo(map);
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var d = L.DomUtil.create("div", "det-legend");
    d.innerHTML = "<b>" + esc(W.score) + "</b> <span id='det-thr'></span><div class='bar'>" +
      C.map(function (c) { return "<i style='background:" + c + "'></i>"; }).join("") +
      "</div><div class='ticks'><span>0</span><span>0.5</span><span>1</span></div>";
    return d;
  };
  legend.addTo(map);
  /* The patches below the threshold (most of them) are only handed to their layer while it is shown. */
  function fillLow() { if (det.lowRings && below._map) { det.low.setLatLngs(det.lowRings); det.lowRings = null; } }
  below.on("add", fillLow);
  det.apply = function (start, drop, top, polygons, threshold) {
    var t0 = performance.now(), gone = new Set(idx(drop)), hi = C.map(function () { return []; }), lo = [];
    for (var b = 0; b < C.length; b++) {
      for (var i = B[b]; i < B[b + 1]; i++) { (i < start || gone.has(i) ? lo : hi[b]).push(all[i]); }
    }
    det.lowRings = lo;
    fillLow();
    det.high.forEach(function (layer, k) { layer.setLatLngs(hi[k]); });
    det.top.setLatLngs(idx(top).map(function (i) { return all[i]; }));
    det.polygons.setLatLngs(rings(polygons));
    det.shown = all.length - lo.length;
    det.threshold = threshold;
    det.applyMs = performance.now() - t0;
    var t = document.getElementById("det-thr");
    if (t) { t.textContent = W.shown.replace("{threshold}", threshold.toFixed(2)); }
  };
  det.view = function (nonce, bounds, outline, clearDrawn, image) {
    det.region.clearLayers();
    det.image.clearLayers();
    if (image) { det.image.addLayer(L.polygon(rings(image), L.extend({renderer: R, interactive: false}, cfg.styles.image))); }
    if (outline) { det.region.addLayer(L.polygon(rings(outline), L.extend({renderer: R, interactive: false}, cfg.styles.outline))); }
    if (!nonce || det.flown === nonce) { return; }
    det.flown = nonce;
    if (clearDrawn && window.drawnItems && window.drawnItems.clearLayers) { window.drawnItems.clearLayers(); }
    if (bounds) { map.fitBounds(bounds, {animate: false}); }
  };
  /* What changes with the rule and the region (from ui.detect.map.ResultView). */
  det.update = function (group, v) {
    det.apply(v.start, v.drop, v.top, v.polygons, v.threshold);
    det.view(v.nonce, v.bounds, v.outline, v.clear_drawn, v.image);
  };
  map.on("draw:drawstart", function () { if (window.drawnItems && window.drawnItems.clearLayers) { window.drawnItems.clearLayers(); } });
  if (cfg.home_bounds) { map.fitBounds(cfg.home_bounds, {animate: false}); }
};
