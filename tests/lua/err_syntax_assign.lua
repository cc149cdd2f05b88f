-- syntax error: double equals in assignment
print("this never runs")
x = = 1
