"""Media inputs: image sources (data URIs, allowed URLs), bounded decoding, and how many
prompt tokens each image becomes for a vision model."""
