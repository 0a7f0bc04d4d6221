"""The figures' data of each page, one module per page topic (closed-session ones in
closed.py): named queries of queries/views run on a warehouse connection, then stats/."""
