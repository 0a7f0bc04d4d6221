select column_name, column_type from (describe {{ table | ident }})
