/* The megabytes of a live map's layers (see live.js): handed to the map that waits for them by digest. */
export default function (args) {
  var data = args.data;
  if (data && data.digest) { window.amwLayersFor(data.digest).resolve(data.layers); }
}
