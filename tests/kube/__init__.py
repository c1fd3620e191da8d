"""A real Kubernetes control plane for the tests (the envtest idea): etcd, kube-apiserver,
kube-controller-manager and kube-scheduler on loopback, the K3s cluster of the spec on it, the
parts no binary plays here (kubelet status, volume provisioner) played explicitly, and the requests
pulumi-kubernetes sends. See docs/testing.md, "The kube tier"."""
