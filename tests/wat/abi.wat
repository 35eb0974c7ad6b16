;; A core-module test guest that calls every import of the core ABI and
;; checks every error code (wit/CORE_ABI.md). The first byte of the first
;; argument picks what it does:
;;
;;   checks  (c)  every import and error code; run with --quota 20 and a
;;                non-empty input; appends "abi checks passed" to the output
;;   handle  (h)  uses a forged handle: traps
;;   use     (u)  uses a dropped handle: traps
;;   pointer (p)  reads into a range outside its memory: traps
;;   drop    (d)  drops the input: traps
;;   fail    (f)  calls `fail` and returns 1
;;   status  (s)  returns 7 without calling `fail`
;;   args    (a)  writes its arguments, one per line, to the output
(module
  (import "bufbridge:buffers/raw@0.1.0" "len" (func $len (param i32) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "limit" (func $limit (param i32) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "read" (func $read (param i32 i64 i32 i32) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "write" (func $write (param i32 i64 i32 i32) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "append" (func $append (param i32 i32 i32) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "truncate" (func $truncate (param i32 i64) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "copy_from" (func $copy_from (param i32 i32 i64 i64 i64) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "create" (func $create (param i64) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "drop" (func $drop (param i32) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "args_size" (func $args_size (result i32)))
  (import "bufbridge:buffers/raw@0.1.0" "args_get" (func $args_get (param i32) (result i32)))
  (import "bufbridge:buffers/raw@0.1.0" "fail" (func $fail (param i32 i32)))

  ;; 0..1024 args, 1024..2048 read area, 2048.. constant strings.
  (memory (export "memory") 1)
  (data (i32.const 2048) "hello world, hello bufbridge")
  (data (i32.const 2100) "abi check ? failed")
  (data (i32.const 2120) "abi checks passed\n")
  (data (i32.const 2140) "a message from the guest")
  (global $failed (mut i32) (i32.const 0))

  ;; Records the first failed check: its number as a letter ('A' is 0).
  (func $expect (param $n i32) (param $got i64) (param $want i64)
    (if (i32.and (i64.ne (local.get $got) (local.get $want)) (i32.eqz (global.get $failed)))
      (then
        (i32.store8 (i32.const 2110) (i32.add (i32.const 65) (local.get $n)))
        (call $fail (i32.const 2100) (i32.const 18))
        (global.set $failed (i32.const 1)))))

  (func $checks (param $in i32) (param $out i32) (result i32)
    (local $c i32) (local $d i32)
    ;; A: the input's limit is its length; B: it is not empty
    (call $expect (i32.const 0) (call $limit (local.get $in)) (call $len (local.get $in)))
    (call $expect (i32.const 1) (i64.extend_i32_u (i64.eqz (call $len (local.get $in)))) (i64.const 0))
    ;; C: create(u64::MAX) is over the quota
    (call $expect (i32.const 2) (call $create (i64.const -1)) (i64.const -4))
    (local.set $c (i32.wrap_i64 (call $create (i64.const 16))))
    ;; D: a handle is never negative
    (call $expect (i32.const 3) (i64.extend_i32_u (i32.lt_s (local.get $c) (i32.const 0))) (i64.const 0))
    ;; E-G: append, len, limit
    (call $expect (i32.const 4) (call $append (local.get $c) (i32.const 2048) (i32.const 5)) (i64.const 0))
    (call $expect (i32.const 5) (call $len (local.get $c)) (i64.const 5))
    (call $expect (i32.const 6) (call $limit (local.get $c)) (i64.const 16))
    ;; H-J: read clips at the end and lands in memory
    (call $expect (i32.const 7) (call $read (local.get $c) (i64.const 0) (i32.const 1024) (i32.const 100)) (i64.const 5))
    (call $expect (i32.const 8) (i64.load8_u (i32.const 1024)) (i64.const 104)) ;; 'h'
    (call $expect (i32.const 9) (i64.load8_u (i32.const 1028)) (i64.const 111)) ;; 'o'
    ;; K: read past the end: -1
    (call $expect (i32.const 10) (call $read (local.get $c) (i64.const 6) (i32.const 1024) (i32.const 1)) (i64.const -1))
    ;; L: write leaving a hole: -1; M: past the limit: -2; N: to the input: -3
    (call $expect (i32.const 11) (call $write (local.get $c) (i64.const 6) (i32.const 2048) (i32.const 1)) (i64.const -1))
    (call $expect (i32.const 12) (call $write (local.get $c) (i64.const 5) (i32.const 2048) (i32.const 12)) (i64.const -2))
    (call $expect (i32.const 13) (call $write (local.get $in) (i64.const 0) (i32.const 2048) (i32.const 1)) (i64.const -3))
    ;; O: a refused write changed nothing
    (call $expect (i32.const 14) (call $len (local.get $c)) (i64.const 5))
    ;; P-S: truncate: read-only, cannot grow, shortens
    (call $expect (i32.const 15) (call $truncate (local.get $in) (i64.const 0)) (i64.const -3))
    (call $expect (i32.const 16) (call $truncate (local.get $c) (i64.const 6)) (i64.const -1))
    (call $expect (i32.const 17) (call $truncate (local.get $c) (i64.const 2)) (i64.const 0))
    (call $expect (i32.const 18) (call $len (local.get $c)) (i64.const 2))
    ;; T-U: copy_from into the output counts what the source has
    (call $expect (i32.const 19) (call $copy_from (local.get $out) (local.get $c) (i64.const 0) (i64.const 0) (i64.const 100)) (i64.const 2))
    (call $expect (i32.const 20) (call $truncate (local.get $out) (i64.const 0)) (i64.const 0))
    ;; V-W: self copy: "he" -> "hehe"
    (call $expect (i32.const 21) (call $copy_from (local.get $c) (local.get $c) (i64.const 0) (i64.const 2) (i64.const 2)) (i64.const 2))
    (call $expect (i32.const 22) (call $read (local.get $c) (i64.const 2) (i32.const 1024) (i32.const 2)) (i64.const 2))
    (call $expect (i32.const 23) (i64.load8_u (i32.const 1024)) (i64.const 104)) ;; 'h'
    ;; Y: source offset past its end: -1 (u64::MAX never wraps)
    (call $expect (i32.const 24) (call $copy_from (local.get $c) (local.get $in) (i64.const -1) (i64.const 0) (i64.const 1)) (i64.const -1))
    ;; Z: copy into the input: -3
    (call $expect (i32.const 25) (call $copy_from (local.get $in) (local.get $c) (i64.const 0) (i64.const 0) (i64.const 1)) (i64.const -3))
    ;; Quota 20, 4 bytes used by $c: [ growth past it: -4, \ up to it: ok
    (local.set $d (i32.wrap_i64 (call $create (i64.const 20))))
    (call $expect (i32.const 26) (call $append (local.get $d) (i32.const 2048) (i32.const 17)) (i64.const -4))
    (call $expect (i32.const 27) (call $append (local.get $d) (i32.const 2048) (i32.const 16)) (i64.const 0))
    ;; ] dropping gives the bytes back: ^ then growth works again
    (call $expect (i32.const 28) (call $drop (local.get $d)) (i64.const 0))
    (call $expect (i32.const 29) (call $append (local.get $c) (i32.const 2048) (i32.const 12)) (i64.const 0))
    (call $expect (i32.const 30) (call $drop (local.get $c)) (i64.const 0))
    (if (global.get $failed) (then (return (i32.const 1))))
    (drop (call $append (local.get $out) (i32.const 2120) (i32.const 18)))
    (i32.const 0))

  ;; Writes each argument on a line of its own.
  (func $args (param $out i32) (result i32)
    (local $size i32) (local $i i32)
    (local.set $size (call $args_size))
    (drop (call $args_get (i32.const 0)))
    (loop $nul
      (if (i32.lt_u (local.get $i) (local.get $size))
        (then
          (if (i32.eqz (i32.load8_u (local.get $i)))
            (then (i32.store8 (local.get $i) (i32.const 10))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $nul))))
    (drop (call $append (local.get $out) (i32.const 0) (local.get $size)))
    (i32.const 0))

  (func (export "process") (param $in i32) (param $out i32) (result i32)
    (local $cmd i32) (local $c i32)
    (if (i32.gt_u (call $args_size) (i32.const 1024)) (then unreachable))
    (if (i32.eqz (call $args_get (i32.const 0)))
      (then (return (call $checks (local.get $in) (local.get $out)))))
    (local.set $cmd (i32.load8_u (i32.const 0)))
    (if (i32.eq (local.get $cmd) (i32.const 99)) ;; c
      (then (return (call $checks (local.get $in) (local.get $out)))))
    (if (i32.eq (local.get $cmd) (i32.const 104)) ;; h
      (then (drop (call $len (i32.const 12345))) (return (i32.const 0))))
    (if (i32.eq (local.get $cmd) (i32.const 117)) ;; u
      (then
        (local.set $c (i32.wrap_i64 (call $create (i64.const 1))))
        (drop (call $drop (local.get $c)))
        (drop (call $len (local.get $c)))
        (return (i32.const 0))))
    (if (i32.eq (local.get $cmd) (i32.const 112)) ;; p
      (then (drop (call $read (local.get $in) (i64.const 0) (i32.const 0x7fff0000) (i32.const 100))) (return (i32.const 0))))
    (if (i32.eq (local.get $cmd) (i32.const 100)) ;; d
      (then (drop (call $drop (local.get $in))) (return (i32.const 0))))
    (if (i32.eq (local.get $cmd) (i32.const 102)) ;; f
      (then
        (drop (call $append (local.get $out) (i32.const 2048) (i32.const 5)))
        (call $fail (i32.const 2140) (i32.const 24))
        (return (i32.const 1))))
    (if (i32.eq (local.get $cmd) (i32.const 115)) ;; s
      (then (return (i32.const 7))))
    (if (i32.eq (local.get $cmd) (i32.const 97)) ;; a
      (then (return (call $args (local.get $out)))))
    unreachable))
