"""The Review page: the queue, the patch views, keys, and the scored layers Review and Tune share."""
