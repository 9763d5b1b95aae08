"""The Explore page: its map (:mod:`.layers`) and its side panels (:mod:`.panels`)."""
