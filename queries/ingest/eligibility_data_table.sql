create or replace table eligibility_data (code varchar, subjid varchar, violated boolean, detail varchar)
