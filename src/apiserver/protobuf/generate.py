#!/usr/bin/env python3
"""Generates messages.json: field tables of the Kubernetes protobuf messages reachable from
the kinds kubectl 1.32+ sends as protobuf (kubectl create ...). Input: the generated.proto
files of k8s.io/api and k8s.io/apimachinery (any recent tag), given as arguments.
Usage: python3 generate.py FILE.proto... > messages.json (then wrapped as messages.ts)"""
import json, re, sys

SCALARS = {"string", "bool", "int32", "int64", "bytes", "double", "float", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64"}
msgs = {}
for path in sys.argv[1:]:
    text = open(path).read()
    pkg = re.search(r'^package ([\w.]+);', text, re.M).group(1)
    for m in re.finditer(r'^message (\w+) \{(.*?)^\}', text, re.M | re.S):
        fields = []
        for line in m.group(2).splitlines():
            line = line.strip()
            f = re.match(r'(optional|repeated) ([\w.]+) (\w+) = (\d+);', line)
            mp = re.match(r'map<(\w+), ([\w.]+)> (\w+) = (\d+);', line)
            if f:
                label, typ, name, num = f.groups()
                name = {'uID': 'uid'}.get(name, name)  # the one proto name whose JSON name differs (BoundObjectReference)
                fields.append([int(num), name, typ if typ[0] == '.' or typ in SCALARS else '.' + pkg + '.' + typ, 'r' if label == 'repeated' else ''])
            elif mp:
                k, v, name, num = mp.groups()
                fields.append([int(num), name, v if v[0] == '.' or v in SCALARS else '.' + pkg + '.' + v, 'm'])
        msgs['.' + pkg + '.' + m.group(1)] = fields
    del text
ROOTS = ['core.v1.ConfigMap', 'core.v1.Secret', 'core.v1.Namespace', 'core.v1.Service', 'core.v1.ServiceAccount', 'core.v1.Pod',
         'core.v1.ResourceQuota', 'apps.v1.Deployment', 'batch.v1.Job', 'batch.v1.CronJob', 'rbac.v1.Role', 'rbac.v1.RoleBinding',
         'rbac.v1.ClusterRole', 'rbac.v1.ClusterRoleBinding', 'scheduling.v1.PriorityClass', 'networking.v1.Ingress',
         'policy.v1.PodDisruptionBudget', 'autoscaling.v2.HorizontalPodAutoscaler', 'autoscaling.v1.HorizontalPodAutoscaler', 'policy.v1.Eviction', 'core.v1.LimitRange', 'authentication.v1.SelfSubjectReview', 'authentication.v1.TokenReview', 'authentication.v1.TokenRequest',
         'authorization.v1.SelfSubjectAccessReview', 'authorization.v1.SubjectAccessReview', 'authorization.v1.SelfSubjectRulesReview']
out, todo = {}, ['.k8s.io.api.' + r for r in ROOTS] + ['.k8s.io.apimachinery.pkg.runtime.Unknown']
while todo:
    n = todo.pop()
    if n in out or n not in msgs:
        continue
    out[n] = msgs[n]
    todo += [f[2] for f in msgs[n] if f[2].startswith('.')]
print(json.dumps({k[1:]: [[f[0], f[1], f[2].lstrip('.'), f[3]] for f in v] for k, v in sorted(out.items())}, separators=(',', ':')))
