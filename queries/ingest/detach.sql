detach {{ alias | ident }}
