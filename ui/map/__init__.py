"""The map kernel every page's map is built on: scripts, view state, basemaps, drawings.

- :mod:`.kernel`: the folium elements that put a page's script (``js/*.js``) and its data on a
  map, where the map opens (:class:`Home`) and where it should go (:class:`Fly`).
- :mod:`.drawing`: what a Leaflet drawing, a click and a map view mean, as plain data.
- :mod:`.basemaps`: tile layers with their attributions.
"""
