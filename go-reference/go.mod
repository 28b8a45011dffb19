module worker-pools/go-reference

go 1.19
