attach {{ path | lit }} as {{ alias | ident }}
