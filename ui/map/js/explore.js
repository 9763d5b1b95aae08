/* The Explore map: mines of every period, boundaries, airstrips, the layer switcher, and window.amw
   to steer them (amw.view) without rebuilding anything. Everything is drawn on one canvas; only the
   mine polygons are interactive, so a click anywhere else never reruns the page. The period layers
   all start on the map (the newest as "new"). cfg comes from ui.explore.layers.map_config; the page
   element around it is ui/map/js/live.js. */
window.amwExplore = function (map, cfg) {
  var codec = amwCodec(cfg.alphabet, cfg.precision), rings = codec.rings, points = codec.points, W = cfg.words;
  var R = L.canvas({padding: 0.4, tolerance: 3});
  /* One canvas for everything, drawings included: a second canvas on top would swallow the clicks
     meant for the mines under it. */
  map.options.renderer = R;
  /* The opening view first: every layer is then projected once, at that zoom (not again after a fit). */
  if (cfg.home_bounds) { map.fitBounds(cfg.home_bounds, {animate: false}); }

  var amw = window.amw = {map: map, periods: cfg.periods, mines: [], flown: null,
    newStyle: cfg.styles.new, oldStyle: cfg.styles.old, outlineStyle: cfg.styles.outline,
    rings: rings, renderer: R};
  /* Mines are drawn by their own path routine: a ring that covers no more than a pixel (every one of
     them when zoomed out to the basin) becomes one small square, drawn once per pixel. The canvas then
     gets a few thousand squares instead of 45,000 rings when zoomed out. */
  var Mines = L.Polygon.extend({
    _updatePath: function () {
      var Rn = this._renderer, parts = this._parts, ctx = Rn._ctx;
      if (!Rn._drawing || !parts.length) { return; }
      var seen = new Set();
      ctx.beginPath();
      for (var i = 0; i < parts.length; i++) {
        var part = parts[i], n = part.length, p = part[0];
        if (n < 3) {
          var key = Math.round(p.x) * 100003 + Math.round(p.y);
          if (!seen.has(key)) { seen.add(key); ctx.rect(Math.round(p.x) - 0.5, Math.round(p.y) - 0.5, 1, 1); }
          continue;
        }
        ctx.moveTo(p.x, p.y);
        for (var j = 1; j < n; j++) { ctx.lineTo(part[j].x, part[j].y); }
        ctx.closePath();
      }
      Rn._fillStroke(ctx, this);
    }
  });
  var M = cfg.layers.mines;
  amw.selected = L.layerGroup().addTo(map);
  function inside(ll, ring) {  /* ray casting in longitude/latitude: enough for one small polygon */
    var x = ll.lng, y = ll.lat, hit = false;
    for (var a = 0, b = ring.length - 1; a < ring.length; b = a++) {
      var xa = ring[a].lng, ya = ring[a].lat, xb = ring[b].lng, yb = ring[b].lat;
      if ((ya > y) !== (yb > y) && x < (xb - xa) * (y - ya) / (yb - ya) + xa) { hit = !hit; }
    }
    return hit;
  }
  /* The clicked polygon is outlined (the facts card beside the map is about it) until another click. */
  amw.select = function (layer, latlng) {
    amw.selected.clearLayers();
    var rs = layer.getLatLngs(), at = map.latLngToLayerPoint(latlng), pick = null, best = 5;  /* px: the canvas' tolerance */
    for (var r = 0; r < rs.length && !pick; r++) {
      if (inside(latlng, rs[r])) { pick = rs[r]; }
    }
    /* A click within the tolerance of a ring's edge (or on a ring a pixel wide) counts as on it, as the canvas
       counted it: the nearest such ring. */
    for (var q = 0; q < rs.length && !pick; q++) {
      var pts = rs[q].map(function (ll) { return map.latLngToLayerPoint(ll); });
      for (var j = 0; j < pts.length; j++) {
        var d = L.LineUtil.pointToSegmentDistance(at, pts[j], pts[(j + 1) % pts.length]);
        if (d < best) { best = d; amw.nearest = rs[q]; }
      }
    }
    pick = pick || amw.nearest;
    amw.nearest = null;
    if (pick) { amw.selected.addLayer(L.polygon(pick, L.extend({renderer: R, interactive: false}, cfg.styles.selected))); }
    return !!pick;
  };
  for (var i = 0; i < M.length; i++) {
    var rr = rings(M[i]);
    var layer = rr.length ? new Mines(rr, L.extend({renderer: R, attribution: cfg.credit, interactive: true}, amw.oldStyle)) : null;
    if (layer) {
      layer.on("click", function (e) { amw.select(e.target, e.latlng); if (amw.reportClick) { amw.reportClick(e.latlng); } });
    }
    amw.mines.push(layer);
  }
  amw.oldGroup = L.layerGroup().addTo(map);
  amw.newGroup = L.layerGroup().addTo(map);
  var terr = L.polygon(rings(cfg.layers.territories),
    L.extend({renderer: R, interactive: false}, cfg.styles.territory)).addTo(map);
  var ctry = L.polygon(rings(cfg.layers.countries),
    L.extend({renderer: R, interactive: false}, cfg.styles.country)).addTo(map);
  /* Airstrips: all the points of one colour in a single canvas layer (1,269 markers would be 1,269 layers). */
  var Dots = L.Path.extend({
    initialize: function (latlngs, options) { L.setOptions(this, options); this._latlngs = latlngs; },
    getBounds: function () { return L.latLngBounds(this._latlngs); },
    _project: function () {
      var map = this._map, r = this.options.radius + this.options.weight, b = new L.Bounds();
      this._pts = this._latlngs.map(function (ll) { var p = map.latLngToLayerPoint(ll); b.extend(p); return p; });
      this._pxBounds = this._pts.length ? new L.Bounds(b.min.subtract([r, r]), b.max.add([r, r])) : undefined;
    },
    _update: function () { if (this._map) { this._updatePath(); } },
    _updatePath: function () {
      var Rn = this._renderer, ctx = Rn._ctx, r = this.options.radius, pts = this._pts;
      if (!Rn._drawing || !pts || !pts.length) { return; }
      ctx.beginPath();
      for (var i = 0; i < pts.length; i++) { ctx.moveTo(pts[i].x + r, pts[i].y); ctx.arc(pts[i].x, pts[i].y, r, 0, 2 * Math.PI); }
      Rn._fillStroke(ctx, this);
    },
    _containsPoint: function () { return false; },
    _empty: function () { return !this._pts || !this._pts.length; }
  });
  var air = L.layerGroup(), strips = [];
  [[cfg.layers.airstrips_other, cfg.airstrip_other, cfg.layers.airstrip_labels_other || [], false],
   [cfg.layers.airstrips_mining, cfg.airstrip_mining, cfg.layers.airstrip_labels_mining || [], true]].forEach(function (spec) {
    var dots = new Dots(points(spec[0]), {renderer: R, interactive: false, radius: 3.5, weight: 1, color: "#000", fill: true,
      fillColor: spec[1], fillOpacity: 0.95, attribution: cfg.airstrip_credit});
    strips.push({dots: dots, labels: spec[2], mining: spec[3]});
    air.addLayer(dots);
  });
  air.addTo(map);
  /* A click near an airstrip (within 8 px) says what it is, in a popup: drawn in the browser, no rerun. */
  amw.airstripAt = function (latlng) {
    if (!map.hasLayer(air)) { return null; }
    var at = map.latLngToLayerPoint(latlng), best = null, bestD = 64;
    strips.forEach(function (s) {
      (s.dots._pts || []).forEach(function (p, i) {
        var d = (p.x - at.x) * (p.x - at.x) + (p.y - at.y) * (p.y - at.y);
        if (d <= bestD) { bestD = d; best = {latlng: s.dots._latlngs[i], label: s.labels[i] || "Airstrip", mining: s.mining}; }
      });
    });
    return best;
  };
  var esc = window.amwEscape;
  map.on("click", function (e) {
    var hit = amw.airstripAt(e.latlng);
    if (!hit) { return; }
    L.popup({className: "amw-airstrip"}).setLatLng(hit.latlng).setContent(
      "<b>" + esc(hit.label) + "</b><br>" + esc(hit.mining ? W.mining_seen : W.no_mining) +
      "<br>" + hit.latlng.lat.toFixed(5) + ", " + hit.latlng.lng.toFixed(5) +
      '<br><span style="color:#666">' + esc(cfg.airstrip_credit) + "</span>").openOn(map);
  });
  amw.setPeriod = function (k) {
    amw.shown = k;
    for (var i = 0; i < amw.mines.length; i++) {
      var p = amw.mines[i];
      if (!p) { continue; }
      var want = i < k ? amw.oldGroup : (i === k ? amw.newGroup : null);
      [amw.oldGroup, amw.newGroup].forEach(function (g) { if (g !== want && g.hasLayer(p)) { g.removeLayer(p); } });
      if (want) {
        p.setStyle(want === amw.newGroup ? amw.newStyle : amw.oldStyle);
        if (!want.hasLayer(p)) { want.addLayer(p); }
      }
    }
    if (amw.mines[k] && amw.newGroup.hasLayer(amw.mines[k]) && amw.mines[k]._map) { amw.mines[k].bringToFront(); }
    var lab = document.getElementById("amw-new-label");
    var name = cfg.period_labels[k];  /* as the visitor's language writes it */
    if (lab) { lab.textContent = (amw.periods[k] === amw.periods[0] ? W.up_to : W.new_in).replace("{period}", name); }
    var old = document.getElementById("amw-old-label");
    if (old) { old.textContent = W.before.replace("{period}", name); }
  };
  amw.fly = function (nonce, bounds, clearDrawn) {
    if (amw.flown === nonce) { return; }
    amw.flown = nonce;
    if (clearDrawn && amw.drawn) { amw.drawn.clearLayers(); }
    if (bounds) { map.fitBounds(bounds, {animate: false}); }
  };
  amw.outline = function (group, encoded) {
    var rr = rings(encoded);
    if (rr.length) { group.addLayer(L.polygon(rr, L.extend({renderer: R, interactive: false}, amw.outlineStyle))); }
  };
  /* Two years side by side: the other year's imagery in a pane above the basemap, clipped to the left of a
     divider the user drags; the mines stay on top of both. */
  map.createPane("amwSwipe").style.zIndex = 250;
  amw.swipe = function (s) {
    var same = s && amw.swiped && amw.swiped.url === s.url && amw.swiped.left === s.left && amw.swiped.right === s.right;
    if (same) { return; }
    if (amw.swipeLayer) { map.removeLayer(amw.swipeLayer); amw.swipeLayer = null; }
    if (amw.swipeBar) { amw.swipeBar.remove(); amw.swipeBar = null; }
    map.getPane("amwSwipe").style.clip = "";
    amw.swipeClip = null;
    amw.swiped = s;
    if (!s) { return; }
    amw.swipeLayer = L.tileLayer(s.url, {pane: "amwSwipe", attribution: s.attribution, maxNativeZoom: s.max_zoom,
      maxZoom: 19}).addTo(map);
    var bar = amw.swipeBar = L.DomUtil.create("div", "amw-swipe", map.getContainer());
    bar.innerHTML = '<span class="amw-swipe-label amw-swipe-left"></span><span class="amw-swipe-label amw-swipe-right">' +
      '</span><div class="amw-swipe-divider"></div><input class="amw-swipe-range" type="range" min="0" max="1" step="any" value="0.5">';
    bar.querySelector(".amw-swipe-left").textContent = s.left;
    bar.querySelector(".amw-swipe-right").textContent = s.right;
    var range = bar.querySelector("input"), divider = bar.querySelector(".amw-swipe-divider");
    L.DomEvent.disableClickPropagation(bar);
    ["mousedown", "touchstart", "pointerdown", "wheel"].forEach(function (ev) { L.DomEvent.on(range, ev, L.DomEvent.stopPropagation); });
    function clip() {
      if (!amw.swipeBar) { return; }
      var size = map.getSize(), x = Math.round(size.x * parseFloat(range.value));
      var nw = map.containerPointToLayerPoint([0, 0]), se = map.containerPointToLayerPoint(size),
          cut = map.containerPointToLayerPoint([x, 0]);
      map.getPane("amwSwipe").style.clip = "rect(" + [nw.y, cut.x, se.y, nw.x].join("px,") + "px)";
      divider.style.left = x + "px";
    }
    amw.swipeClip = clip;
    range.addEventListener("input", clip);
    clip();
  };
  map.on("move resize zoomend", function () { if (amw.swipeClip) { amw.swipeClip(); } });
  /* What changes with the view (from ui.explore.layers.ViewSettings): period, outline, a region to fly to. */
  amw.view = function (group, v) {
    amw.setPeriod(v.period_index);
    amw.swipe(v.swipe || null);
    if (!amw.restored) { amw.restored = true; amw.restoreHidden(); }
    if (v.outline) { amw.outline(group, v.outline); }
    if (v.nonce) { amw.fly(v.nonce, v.bounds, v.clear_drawn); }
  };
  map.on("draw:drawstart", function () { if (amw.drawn) { amw.drawn.clearLayers(); } });
  function swatch(c, round) {
    return '<i style="display:inline-block;width:11px;height:11px;margin:0 5px 0 2px;background:' + c +
      ';border:1px solid #333;' + (round ? 'border-radius:50%;' : '') + '"></i>';
  }
  var overlays = {};
  overlays[swatch(amw.newStyle.color) + esc(W.mining) + ' <span id="amw-new-label"></span>'] = amw.newGroup;
  overlays[swatch(amw.oldStyle.color) + esc(W.mining) + ' <span id="amw-old-label"></span>'] = amw.oldGroup;
  overlays[swatch(cfg.styles.territory.color) + esc(W.territories)] = terr;
  overlays[swatch("#ffffff") + esc(W.countries)] = ctry;
  overlays[swatch(cfg.airstrip_other, true) + esc(W.airstrips) + ' (' + swatch(cfg.airstrip_mining, true) +
    esc(W.mining_near) + ')'] = air;
  /* Layers the user hides stay hidden, on this page and the next visit (kept in the browser, not sent). */
  var byKey = amw.overlays = {new: amw.newGroup, old: amw.oldGroup, territories: terr, countries: ctry, airstrips: air};
  var STORE = "amw-explore-hidden";
  function keyOf(layer) { for (var k in byKey) { if (byKey[k] === layer) { return k; } } return null; }
  function hidden() { try { return JSON.parse(window.localStorage.getItem(STORE) || "[]"); } catch (err) { return []; } }
  function remember(list) { try { window.localStorage.setItem(STORE, JSON.stringify(list)); } catch (err) { /* private mode */ } }
  amw.restoreHidden = function () {
    hidden().forEach(function (k) { if (byKey[k] && map.hasLayer(byKey[k])) { map.removeLayer(byKey[k]); } });
  };
  map.on("overlayremove", function (e) {
    var k = keyOf(e.layer), list = hidden();
    if (k && list.indexOf(k) < 0) { list.push(k); remember(list); }
    if (k === "airstrips") { map.closePopup(); }
  });
  map.on("overlayadd", function (e) {
    var k = keyOf(e.layer);
    if (k) { remember(hidden().filter(function (x) { return x !== k; })); }
  });
  /* Open on a wide map, an icon on a narrow one (a phone): the switcher would cover a quarter of it. */
  L.control.layers(null, overlays, {collapsed: map.getSize().x < 700, position: "topright"}).addTo(map);
  amw.setPeriod(amw.periods.length - 1);
  return amw;
};
