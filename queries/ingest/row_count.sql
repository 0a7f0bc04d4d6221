select count(*) from {{ table | ident }}
