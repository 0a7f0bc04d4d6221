-- Keys of one form that appear more than once: the key values and the rows that hold them.
select {% for k in key %}{{ k | ident }}, {% endfor %}list(_row order by _row)
from {{ ("typed_" ~ form) | ident }}
where {% for k in key %}{{ k | ident }} is not null{{ " and " if not loop.last }}{% endfor %}

group by {% for k in key %}{{ k | ident }}{{ ", " if not loop.last }}{% endfor %}

having count(*) > 1
order by min(_row)
limit 100
