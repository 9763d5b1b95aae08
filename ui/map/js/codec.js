/* Decoder of detector.display's compact ring encoding: base-64 varints of zig-zag coordinate deltas.
   amwCodec(alphabet, precision) returns {ints, rings, points}. */
window.amwCodec = function (A, P) {
  var T = new Uint8Array(128);
  for (var i = 0; i < 64; i++) { T[A.charCodeAt(i)] = i; }
  function ints(s) {
    var out = [], v = 0, m = 1;
    for (var i = 0; i < s.length; i++) {
      var c = T[s.charCodeAt(i)];
      v += (c & 31) * m;
      if (c & 32) { m *= 32; } else { out.push(v); v = 0; m = 1; }
    }
    return out;
  }
  function unzz(z) { return (z % 2) ? -(z + 1) / 2 : z / 2; }
  function rings(s) {
    var a = ints(s), out = [], i = 0, x = 0, y = 0;
    while (i < a.length) {
      var n = a[i++], r = new Array(n);
      for (var k = 0; k < n; k++) { x += unzz(a[i++]); y += unzz(a[i++]); r[k] = L.latLng(y / P, x / P); }
      out.push(r);
    }
    return out;
  }
  function points(s) {
    var a = ints(s), out = [], x = 0, y = 0;
    for (var i = 0; i < a.length; i += 2) { x += unzz(a[i]); y += unzz(a[i + 1]); out.push(L.latLng(y / P, x / P)); }
    return out;
  }
  return {ints: ints, rings: rings, points: points};
};
/* Text put into a map's HTML (layer names, popups, legends): escaped, whatever the language's words hold. */
window.amwEscape = function (t) {
  return String(t).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; });
};
