"""What leaves the dashboard besides the pages: the summary JSON, the HTML/PDF reports,
and the plotly figures the pages and reports draw."""
