-- regression (second differential probing round): env_field_name.lua
print(pcall(function() return _ENV.undefinedx.y end))
