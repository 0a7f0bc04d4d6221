-- What the data say about each kept eligibility row, in English (`detail`) and in Chinese
-- (`detail_zh`), from the registered frame `details_df` (subjid, code, detail, detail_zh).
alter table eligibility add column if not exists detail_zh varchar;
update eligibility as e
set detail = r.detail, detail_zh = r.detail_zh
from details_df as r
where r.subjid = e.subjid and r.code = e.code
