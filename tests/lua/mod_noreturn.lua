-- helper module (not a test): returns nothing, sets a global
mod_noreturn_ran = true
