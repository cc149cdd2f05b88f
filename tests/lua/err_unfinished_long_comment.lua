-- syntax error: unfinished long comment
print("never printed")
--[[ this comment
never ends
