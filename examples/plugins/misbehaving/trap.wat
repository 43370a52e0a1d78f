;; A plugin that traps on every record: the task fails with
;; "plugin trapped: …"; the worker keeps running.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "transform") (param i32 i32) (result i64)
    unreachable))
