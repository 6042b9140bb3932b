# cmake -DIN=file -DOUT=file.c -DNAME=sym -P embed.cmake: @IN as a C array
# "const unsigned char NAME[]" and "const size_t NAME_len" in @OUT.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* Generated from ${IN} by proto/embed.cmake. */\n"
     "#include <stddef.h>\n"
     "const unsigned char ${NAME}[] = {\n${body}\n};\n"
     "const size_t ${NAME}_len = ${len};\n")
