"""The Detect page: inputs, running and reopening, results and downloads, the map."""
