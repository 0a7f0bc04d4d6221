"""Tools for developers, never imported by the dashboard at run time: the demo trial
generator, the benchmark and the websocket load client."""
