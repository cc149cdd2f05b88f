-- compile error: goto without visible label
print("unreachable")
do goto missing end
