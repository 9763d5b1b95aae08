/* A Leaflet map drawn straight into Streamlit's page (a components-v2 element: no iframe, no React
   bundle of its own), made by ui.map.live. Where a map has megabytes of layers, a second element
   ("amw.map_layers") carries them and stays the same on every rerun (Streamlit then sends a reference,
   not the data), and this one carries the view (period, basemap, region to fly to), a few hundred bytes.
   The map is made once per element and steered on every rerun after that: the page's script
   (window[entry](map, cfg)) returns its handle, whose view(group, v) applies the view. A map that
   reports tells the server only what the user did: a drawing, a click on a mine, a pan or zoom (never
   its opening view, which would rerun the page for nothing). */

function asset(url, kind) {
  var store = window.__amwAssets = window.__amwAssets || {};
  if (!store[url]) {
    store[url] = new Promise(function (resolve, reject) {
      var el = document.createElement(kind === "css" ? "link" : "script");
      if (kind === "css") { el.rel = "stylesheet"; el.href = url; } else { el.src = url; el.async = false; }
      el.onload = resolve;
      el.onerror = function () { reject(new Error("could not load " + url)); };
      document.head.appendChild(el);
    });
  }
  return store[url];
}

function leaflet(assets) {
  assets.css.forEach(function (u) { asset(u, "css"); });  /* styles need not hold anything up */
  return asset(assets.js[0], "js").then(function () {
    return Promise.all(assets.js.slice(1).map(function (u) { return asset(u, "js"); }));
  });
}

var maps = new WeakMap();

function start(el, data, report, from) {
  return Promise.all([leaflet(data.assets), data.digest ? window.amwLayersFor(data.digest).promise : null]).then(function (got) {
    var cfg = Object.assign({}, data.config, data.digest ? {layers: got[1]} : {});
    if (from) { cfg.home_bounds = null; }  /* remade (the visitor's language changed): stay where the map was */
    var map = L.map(el, {center: from ? from.center : [data.home.lat, data.home.lon], zoom: from ? from.zoom : data.home.zoom,
      preferCanvas: data.canvas, maxZoom: 19, minZoom: 3, worldCopyJump: true});
    var drawn = new L.FeatureGroup().addTo(map);
    if (data.draw) {
      var shape = {shapeOptions: data.drawn_style};
      new L.Control.Draw({position: "topleft", edit: {featureGroup: drawn, edit: false, remove: false},
        draw: {polyline: false, circle: false, marker: false, circlemarker: false, rectangle: shape,
               polygon: Object.assign({allowIntersection: false}, shape)}}).addTo(map);
    }
    if (data.scale) { L.control.scale().addTo(map); }
    if (data.search) {
      L.Control.geocoder({collapsed: true, position: "topleft", defaultMarkGeocode: false, placeholder: data.search,
        geocoder: L.Control.Geocoder.nominatim()}).on("markgeocode", function (e) {
        map.setView(e.geocode.center, 11);
      }).addTo(map);
    }
    var amw = window[data.global] = window[data.entry](map, cfg);  /* the page script's handle on its map */
    amw.map = map;
    amw.drawn = drawn;
    if (from) { amw.flown = from.flown; amw.steered = true; }
    amw.viewGroup = L.layerGroup().addTo(map);
    if (!data.report) { return {map: map, amw: amw, built: data.built}; }  /* a map that only shows */
    var last = {};
    function send(extra) {
      var c = map.getCenter();
      last = Object.assign({}, last, extra, {center: {lat: c.lat, lng: c.lng}, zoom: map.getZoom()});
      report(last);
    }
    map.on("draw:created", function (e) { drawn.addLayer(e.layer); send({last_active_drawing: e.layer.toGeoJSON()}); });
    amw.reportClick = function (latlng) { send({last_object_clicked: {lat: latlng.lat, lng: latlng.lng}}); };
    var timer = null;
    map.on("moveend", function () {
      if (amw.quiet) { return; }
      clearTimeout(timer);
      timer = setTimeout(function () { send({}); }, 200);
    });
    return {map: map, amw: amw, built: data.built};
  });
}

function steer(m, data) {
  var amw = m.amw, map = m.map, b = data.basemap;
  if (!amw.tiles || amw.tilesUrl !== b.url) {
    if (amw.tiles) { map.removeLayer(amw.tiles); }
    amw.tiles = L.tileLayer(b.url, {attribution: b.attribution, maxZoom: 19, maxNativeZoom: b.max_zoom}).addTo(map);
    amw.tiles.bringToBack();
    amw.tilesUrl = b.url;
  }
  amw.viewGroup.clearLayers();
  /* The opening view is the link's own: not reported back (that would rerun the page for nothing). A later
     fly to a region is, so the link then holds the region's view. */
  amw.quiet = !amw.steered;
  amw.steered = true;
  try { amw.view(amw.viewGroup, data.view); } finally { amw.quiet = false; }
}

export default function (args) {
  var parent = args.parentElement, data = args.data;
  var el = parent.querySelector(".amw-map");
  if (!el) { return; }
  function report(value) { args.setStateValue("map", value); }
  var m = maps.get(el);
  if (!m) {
    m = start(el, data, report);
  } else {
    /* The map is remade only when what it was made from changed (its words, with the language): the
       rest of a rerun steers the map it has. */
    m = m.then(function (made) {
      if (made.built === data.built) { return made; }
      var from = {center: made.map.getCenter(), zoom: made.map.getZoom(), flown: made.amw.flown};
      made.map.remove();
      return start(el, data, report, from);
    });
  }
  maps.set(el, m);
  m.then(function (made) { steer(made, data); }).catch(function (err) {
    el.textContent = data.failed.replace("{error}", String(err && err.message || err));
  });
  return function () {
    m.then(function (made) { made.map.remove(); if (window[data.global] === made.amw) { window[data.global] = null; } });
  };
}
