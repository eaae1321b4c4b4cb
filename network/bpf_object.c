/* SPDX-License-Identifier: Apache-2.0 */
/* The compiled egress.bpf.o, embedded in the library so that nothing is
 * looked up on disk at run time. OB_NET_BPF_OBJECT is its build path. */
__asm__(".pushsection .rodata\n"
        ".balign 8\n"
        ".globl ob_net_bpf_obj\n"
        ".hidden ob_net_bpf_obj\n"
        "ob_net_bpf_obj:\n"
        ".incbin \"" OB_NET_BPF_OBJECT "\"\n"
        ".globl ob_net_bpf_obj_end\n"
        ".hidden ob_net_bpf_obj_end\n"
        "ob_net_bpf_obj_end:\n"
        ".popsection\n");
