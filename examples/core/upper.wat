;; A core-module bufbridge guest in WebAssembly text: upper-cases ASCII.
;;
;;   bufbridge run examples/core/upper.wat --input notes.txt --output -
;;
;; It streams the input in 64 KiB chunks: read a chunk into linear memory,
;; change it in place, append it to the output. The imports are the core ABI
;; of wit/CORE_ABI.md.
(module
  (import "bufbridge:buffers/raw@0.1.0" "read"
    (func $read (param $h i32) (param $offset i64) (param $ptr i32) (param $len i32) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "append"
    (func $append (param $h i32) (param $ptr i32) (param $len i32) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "fail"
    (func $fail (param $ptr i32) (param $len i32)))

  ;; Page 0 holds the chunk; page 1 the messages.
  (memory (export "memory") 2)
  (data (i32.const 65536) "upper: reading the input failed")
  (data (i32.const 65600) "upper: writing the output failed (is --max-output too small?)")

  (func (export "process") (param $input i32) (param $output i32) (result i32)
    (local $offset i64) (local $n i64) (local $i i32) (local $c i32)
    (loop $chunks
      (local.set $n (call $read (local.get $input) (local.get $offset) (i32.const 0) (i32.const 65536)))
      (if (i64.lt_s (local.get $n) (i64.const 0))
        (then (call $fail (i32.const 65536) (i32.const 31)) (return (i32.const 1))))
      (if (i64.eqz (local.get $n)) (then (return (i32.const 0))))
      ;; a..z -> A..Z in place
      (local.set $i (i32.const 0))
      (loop $bytes
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 26))
          (then (i32.store8 (local.get $i) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $bytes (i32.lt_u (local.get $i) (i32.wrap_i64 (local.get $n)))))
      (if (i64.ne (call $append (local.get $output) (i32.const 0) (i32.wrap_i64 (local.get $n))) (i64.const 0))
        (then (call $fail (i32.const 65600) (i32.const 61)) (return (i32.const 1))))
      (local.set $offset (i64.add (local.get $offset) (local.get $n)))
      (br $chunks))
    (i32.const 0)))
