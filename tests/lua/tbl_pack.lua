-- table.pack sets n, handles nils
local p = table.pack(1, nil, 3, nil)
print(p.n, p[1], p[2], p[3], p[4])
local e = table.pack()
print(e.n, #e)
local q = table.pack("a", "b")
print(q.n, #q, q[1], q[2])
print(table.unpack(p, 1, p.n))
