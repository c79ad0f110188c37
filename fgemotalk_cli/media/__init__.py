"""Media in and out as streams: video decode, encode and mux, audio, images, atomic output,
progress bars."""
