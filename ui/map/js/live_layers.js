/* The megabytes of a live map's layers (see live.js): handed to the map that waits for them by digest. */
export default function (args) {
  var data = args.data, reg = window.__amwLayers = window.__amwLayers || {};
  if (!data || !data.digest) { return; }
  if (!reg[data.digest]) { var d = {}; d.promise = new Promise(function (r) { d.resolve = r; }); reg[data.digest] = d; }
  reg[data.digest].resolve(data.layers);
}
