-- `detail`: the English template of what the data say (a catalogue msgid, queries/eligibility),
-- `detail_params`: the JSON of its values; derive.py renders both languages into `eligibility`.
create or replace table eligibility_data (
    code varchar, subjid varchar, violated boolean, detail varchar, detail_params varchar
)
