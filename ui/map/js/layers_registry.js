/* Where a live map's layers meet the map that waits for them (ui/map/js/live.js, live_layers.js: two
   page elements, loaded in either order): one entry per digest, a promise its layers resolve. */
window.amwLayersFor = window.amwLayersFor || function (digest) {
  var reg = window.__amwLayers = window.__amwLayers || {};
  if (!reg[digest]) { var d = {}; d.promise = new Promise(function (r) { d.resolve = r; }); reg[digest] = d; }
  return reg[digest];
};
